/**
 * Flag parsing on `node:util` parseArgs, turning its errors into one-line {@link UsageError}s.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors/mod.ts";

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
