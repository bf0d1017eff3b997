/**
 * `dmonitor run`: the long-running node. Refuses to start on a broken tree; SIGHUP reloads and
 * keeps the old configuration when the new one is broken; SIGTERM/SIGINT stop it cleanly.
 * @module
 */
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import { createLogger, type Level } from "../log/mod.ts";
import { startDaemon } from "../node/daemon.ts";
import { dropPrivileges } from "../privilege/mod.ts";
import { type Io, parseFlags } from "./args.ts";
import { VERSION } from "./version.ts";

export { pluginUser } from "../node/load.ts";

export const RUN_USAGE = `Usage: dmonitor run [--config DIR]

Runs the node: checks every configured host and test on schedule, confirms failures with its
peers, sends alerts, serves the peer endpoint and status page on 'listen' (default 0.0.0.0:2929),
and keeps state in 'state_dir'. Logs go to stderr, one line per event
(DMONITOR_LOG_LEVEL=debug|info|warn|error; DMONITOR_LOG_TIME=1 adds timestamps).
SIGHUP reloads the configuration (a broken one is reported and the running one kept); SIGTERM or
SIGINT stops the node cleanly.
Started as root, it reads the tree and keys, then runs as 'run_as' (default dmonitor, else nobody)
before it opens the state or listens; 'run_as: root' keeps root (warned).
Exit status: 0 after a clean stop, 1 when the configuration is broken or the node cannot start.`;

function logLevel(): Level {
  const v = Deno.env.get("DMONITOR_LOG_LEVEL");
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
}

export async function runCommand(args: string[], io: Io, stop?: AbortSignal): Promise<number> {
  const { values, positionals } = parseFlags("run", args, {
    config: { type: "string", short: "c" },
  });
  if (values.help) {
    io.out(RUN_USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    io.err(
      `dmonitor run: unexpected argument ${
        JSON.stringify(positionals[0])
      } (see 'dmonitor run --help')`,
    );
    return 64;
  }
  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  const logger = createLogger({ min: logLevel(), time: Deno.env.get("DMONITOR_LOG_TIME") === "1" });
  const ctl = new AbortController();
  const signal = stop ? AbortSignal.any([stop, ctl.signal]) : ctl.signal;
  let daemon;
  try {
    daemon = await startDaemon(dir, {
      logger,
      signal,
      version: VERSION,
      beforeServe: (config) => dropPrivileges(config, logger),
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) {
        logger.error(formatProblemIn(dir, p));
      }
      io.err(
        `dmonitor run: refusing to start: ${e.problems.length} configuration problem(s) in ${dir}`,
      );
    } else {
      io.err(`dmonitor run: ${(e as Error).message}`);
    }
    return 1;
  }
  const onHup = () => void daemon.reload();
  const onStop = () => ctl.abort();
  Deno.addSignalListener("SIGHUP", onHup);
  Deno.addSignalListener("SIGTERM", onStop);
  Deno.addSignalListener("SIGINT", onStop);
  try {
    await daemon.done;
    return 0;
  } finally {
    Deno.removeSignalListener("SIGHUP", onHup);
    Deno.removeSignalListener("SIGTERM", onStop);
    Deno.removeSignalListener("SIGINT", onStop);
  }
}
