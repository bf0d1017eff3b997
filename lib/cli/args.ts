/**
 * Flag parsing on `node:util` parseArgs, turning its errors into one-line {@link UsageError}s.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors/mod.ts";
import { createLogger, type Level, type Logger } from "../log/mod.ts";

export type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses `args` strictly; `--help`/`-h` is always accepted. */
export function parseFlags<O extends Options>(command: string, args: string[], options: O) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UsageError(`dmonitor ${command}: ${msg} (see 'dmonitor ${command} --help')`);
  }
}

/** Output sinks, so commands are testable without touching the real stdout. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Io = {
  out: (t) => Deno.stdout.writeSync(new TextEncoder().encode(t.endsWith("\n") ? t : t + "\n")),
  err: (t) => Deno.stderr.writeSync(new TextEncoder().encode(t.endsWith("\n") ? t : t + "\n")),
};

/** Throws a UsageError naming the first positional argument a command does not take. */
export function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(
      `dmonitor ${command}: unexpected argument ${
        JSON.stringify(positionals[0])
      } (see 'dmonitor ${command} --help')`,
    );
  }
}

/** The logger of a long-running command: DMONITOR_LOG_LEVEL and DMONITOR_LOG_TIME=1. */
export function daemonLogger(): Logger {
  const v = Deno.env.get("DMONITOR_LOG_LEVEL");
  const min: Level = v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
  return createLogger({ min, time: Deno.env.get("DMONITOR_LOG_TIME") === "1" });
}
