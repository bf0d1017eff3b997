/**
 * `dmonitor run`: the long-running node. Refuses to start on a broken tree; SIGHUP reloads and
 * keeps the old configuration when the new one is broken; SIGTERM/SIGINT stop it cleanly.
 * @module
 */
import { resolve } from "node:path";
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import { type Config, DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { ConfigError, formatProblem } from "../errors/mod.ts";
import { createLogger, type Level, type Logger } from "../log/mod.ts";
import { Limiter, resolveUser, type RunAs } from "../runner/mod.ts";
import { createExecutor } from "../node/execute.ts";
import { Node } from "../node/mod.ts";
import { systemClock } from "../schedule/mod.ts";
import { StateStore } from "../store/mod.ts";
import { createNodeApp, serveNodeApp } from "../http/mod.ts";
import { loadStatusAccess, type StatusAccess, statusRoutes, storeStatusSource } from "../status/mod.ts";
import { type Io, parseFlags } from "./args.ts";
import { loadNodeConfig, tentacleSettings } from "./load.ts";
import { startTentacleServer, type TentacleServer } from "../tentacle/mod.ts";
import { VERSION } from "./version.ts";

export const RUN_USAGE = `Usage: dmonitor run [--config DIR]

Runs the node: checks every configured host and test on schedule, serves the peer endpoint on
'listen' (default 0.0.0.0:2929), and keeps state in 'state_dir'. Logs go to stderr, one line per
event (DMONITOR_LOG_LEVEL=debug|info|warn|error). SIGHUP reloads the configuration (a broken one is
reported and the running one kept); SIGTERM or SIGINT stops the node cleanly.
Exit status: 0 after a clean stop, 1 when the configuration is broken or the node cannot start.`;

/** Who plugins run as: `plugin_user` when the node is root, nobody's business otherwise. */
export async function pluginUser(config: Config): Promise<RunAs | null | undefined> {
  if (Deno.uid() !== 0) return undefined;
  if (config.settings.plugin_user === "root") return null;
  return await resolveUser(config.settings.plugin_user);
}

function logLevel(): Level {
  const v = Deno.env.get("DMONITOR_LOG_LEVEL");
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
}

function reportProblems(logger: Logger, dir: string, e: ConfigError): void {
  for (const p of e.problems) logger.error(`${dir}/${formatProblem(p)}`);
}

export async function runCommand(args: string[], io: Io, stop?: AbortSignal): Promise<number> {
  const { values, positionals } = parseFlags("run", args, { config: { type: "string", short: "c" } });
  if (values.help) {
    io.out(RUN_USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    io.err(`dmonitor run: unexpected argument ${JSON.stringify(positionals[0])} (see 'dmonitor run --help')`);
    return 64;
  }
  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  const logger = createLogger({ min: logLevel(), time: Deno.env.get("DMONITOR_LOG_TIME") === "1" });
  let config: Config;
  let access: StatusAccess;
  try {
    config = await loadNodeConfig(dir);
    access = await loadStatusAccess(config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    reportProblems(logger, dir, e);
    io.err(`dmonitor run: refusing to start: ${e.problems.length} configuration problem(s) in ${dir}`);
    return 1;
  }

  const ctl = new AbortController();
  const signal = stop ? AbortSignal.any([stop, ctl.signal]) : ctl.signal;
  const store = StateStore.open(resolve(config.root, config.settings.state_dir));
  let server;
  let tentacle: TentacleServer | undefined;
  try {
    const execute = createExecutor({
      limiter: new Limiter(config.settings.concurrency),
      builtins: BUILTIN_CHECKS,
      user: await pluginUser(config),
      signal,
    });
    const node = new Node({ config, store, execute, clock: systemClock, logger: logger.child("node") });
    const source = storeStatusSource(store, () => node.config, { version: VERSION, startedAt: Date.now() });
    const status = statusRoutes({ source, access: () => access, logger: logger.child("status") });
    server = serveNodeApp(createNodeApp({ mount: [status] }), config.settings.listen, logger.child("http"));
    const ts = tentacleSettings(config).settings;
    if (ts) {
      const tlog = logger.child("tentacle");
      for (const w of ts.warnings) tlog.warn(w);
      tentacle = await startTentacleServer({ ...ts.server, logger: tlog });
    }

    let reloading = false;
    const onHup = async () => {
      if (reloading) return;
      reloading = true;
      try {
        const next = await loadNodeConfig(dir);
        const nextAccess = await loadStatusAccess(next);
        node.reload(next);
        access = nextAccess;
      } catch (e) {
        if (e instanceof ConfigError) {
          reportProblems(logger, dir, e);
          logger.error("reload refused: configuration is broken; keeping the running one", { problems: e.problems.length });
        } else logger.error("reload failed; keeping the running configuration", { error: (e as Error).message });
      } finally {
        reloading = false;
      }
    };
    const onStop = () => ctl.abort();
    Deno.addSignalListener("SIGHUP", onHup);
    Deno.addSignalListener("SIGTERM", onStop);
    Deno.addSignalListener("SIGINT", onStop);
    logger.info("node started", {
      version: VERSION,
      node: config.settings.node,
      config: config.root,
      tests: config.tests.length,
      peers: config.peers.length,
      mode: config.settings.singleNode ? "single-node" : `quorum ${quorumText(config)}`,
      listen: `${server.addr.hostname}:${server.addr.port}`,
      state: store.path,
    });
    try {
      await node.run(signal);
    } finally {
      Deno.removeSignalListener("SIGHUP", onHup);
      Deno.removeSignalListener("SIGTERM", onStop);
      Deno.removeSignalListener("SIGINT", onStop);
    }
    logger.info("node stopped", { runs: node.runs });
    return 0;
  } catch (e) {
    io.err(`dmonitor run: ${(e as Error).message}`);
    return 1;
  } finally {
    await tentacle?.close();
    await server?.shutdown();
    store.close();
  }
}

function quorumText(c: Config): string {
  const q = c.settings.quorum;
  return q.kind === "count" ? String(q.count) : `${q.percent}%`;
}
