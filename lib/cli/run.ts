/**
 * `dmonitor run`: the long-running node. Refuses to start on a broken tree; SIGHUP reloads and
 * keeps the old configuration when the new one is broken; SIGTERM/SIGINT stop it cleanly.
 * @module
 */
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import { startDaemon } from "../node/daemon.ts";
import { dropPrivileges } from "../privilege/mod.ts";
import { daemonLogger, type Io, noPositionals, parseFlags } from "./args.ts";
import { preloadBeforeDrop } from "./preload.ts";
import { VERSION } from "./version.ts";

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

/** How long a stop may take before the node exits regardless (systemd's default is 90 s). */
export const STOP_GRACE_MS = 5_000;

export async function runCommand(args: string[], io: Io, stop?: AbortSignal): Promise<number> {
  const { values, positionals } = parseFlags("run", args, {
    config: { type: "string", short: "c" },
  });
  if (values.help) {
    io.out(RUN_USAGE);
    return 0;
  }
  noPositionals("run", positionals);
  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  const logger = daemonLogger();
  const ctl = new AbortController();
  const signal = stop ? AbortSignal.any([stop, ctl.signal]) : ctl.signal;
  let daemon;
  try {
    daemon = await startDaemon(dir, {
      logger,
      signal,
      version: VERSION,
      beforeServe: async (config) => {
        await preloadBeforeDrop({ mail: config.recipients.length > 0 });
        return dropPrivileges(config, logger);
      },
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
  // A clean stop waits for running checks and deliveries; whatever still hangs after the grace
  // period (a wedged file system, a stuck peer) does not keep the node alive: systemd's stop
  // timeout must never be the one that ends it. A second signal exits at once.
  let force: (code: number) => void = () => {};
  const forced = new Promise<number>((r) => (force = r));
  let grace: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => {
    grace = setTimeout(() => {
      logger.error("node did not stop in time, exiting anyway", { grace_ms: STOP_GRACE_MS });
      force(1);
    }, STOP_GRACE_MS);
  }, { once: true });
  const onStop = () => {
    if (ctl.signal.aborted) {
      logger.warn("second stop signal, exiting now");
      force(1);
    }
    ctl.abort();
  };
  Deno.addSignalListener("SIGHUP", onHup);
  Deno.addSignalListener("SIGTERM", onStop);
  Deno.addSignalListener("SIGINT", onStop);
  try {
    return await Promise.race([daemon.done.then(() => 0), forced]);
  } finally {
    clearTimeout(grace);
    Deno.removeSignalListener("SIGHUP", onHup);
    Deno.removeSignalListener("SIGTERM", onStop);
    Deno.removeSignalListener("SIGINT", onStop);
  }
}
