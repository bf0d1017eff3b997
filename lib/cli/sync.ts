/**
 * `dmonitor sync`: the central puller on its own, for a central machine that does not run
 * `dmonitor run` with a `sync:` section, or from cron with `--once`. Alerts go through the same
 * notifier and outbox as the node's (alert.d/, smtp:), in the node's state database.
 * @module
 */
import { resolve } from "node:path";
import { type Config, DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import {
  alertTargets,
  buildChannels,
  type BuiltChannels,
  createNotifier,
  deliverDue,
  loadSilences,
  runOutbox,
} from "../alerts/mod.ts";
import { createLogger, type Level } from "../log/mod.ts";
import { openDatabase, StateStore } from "../store/mod.ts";
import {
  readPandoraConf,
  requireSites,
  startSyncPuller,
  SyncPuller,
  syncSettings,
} from "../sync/mod.ts";
import { type Io, parseFlags } from "./args.ts";
import { dropPrivileges } from "../privilege/mod.ts";
import { alertSettings, loadNodeConfig } from "../node/load.ts";

export const SYNC_USAGE = `Usage: dmonitor sync [--config DIR] [--once] [--pandora-conf FILE]

Pulls the spooled results of remote sites (isolated networks) from their Tentacle servers into this
node's store, notifies their incidents through alert.d/, raises "site unreachable" for a site not
reached for 'unreachable_after', and pushes each site's configuration from sites.d/<site>/.
Settings come from the 'sync:' section of DIR/dmonitor.yaml (default ${DEFAULT_CONFIG_DIR}), with
Pandora's key names (syncserver, sync_address, sync_port, sync_ca, sync_cert, sync_key,
sync_retries, sync_timeout); --pandora-conf reads those keys from an existing pandora_server.conf,
where they win over dmonitor.yaml.
  --once          pull every site once (with retries), deliver alerts, print a summary and exit
                  (for cron); without it, runs until SIGTERM or SIGINT
Started as root, it switches to 'run_as' (default dmonitor, else nobody) before opening the state.
Exit status: 0 when every site was pulled (--once) or after a clean stop, 1 when a site could not
be pulled (--once) or the configuration is broken, 64 on a usage error.`;

function logLevel(): Level {
  const v = Deno.env.get("DMONITOR_LOG_LEVEL");
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : "info";
}

export async function syncCommand(args: string[], io: Io, stop?: AbortSignal): Promise<number> {
  const { values, positionals } = parseFlags("sync", args, {
    config: { type: "string", short: "c" },
    once: { type: "boolean" },
    "pandora-conf": { type: "string" },
  });
  if (values.help) {
    io.out(SYNC_USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    io.err(
      `dmonitor sync: unexpected argument ${
        JSON.stringify(positionals[0])
      } (see 'dmonitor sync --help')`,
    );
    return 64;
  }
  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  let overrides: Record<string, string> | undefined;
  const pandora = values["pandora-conf"];
  if (pandora !== undefined) {
    try {
      overrides = readPandoraConf(await Deno.readTextFile(pandora));
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "does not exist" : (e as Error).message;
      io.err(`dmonitor sync: cannot read --pandora-conf ${pandora}: ${why}`);
      return 1;
    }
  }
  let config: Config;
  try {
    config = await loadNodeConfig(dir);
    const { settings, problems } = syncSettings(config, overrides);
    const missing = settings ? requireSites(settings) : null;
    if (missing) problems.push(missing);
    if (!settings && problems.length === 0) {
      problems.push({
        file: "dmonitor.yaml",
        key: "sync",
        message: "is missing: there is no site to pull (or pass --pandora-conf)",
      });
    }
    if (problems.length > 0) throw new ConfigError(problems);
    if (!settings!.enabled) {
      io.err("dmonitor sync: syncserver is 0; nothing to do");
      return 0;
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) io.err(formatProblemIn(dir, p));
    io.err(`dmonitor sync: ${e.problems.length} configuration problem(s) in ${dir}`);
    return 1;
  }

  const logger = createLogger({ min: logLevel(), time: Deno.env.get("DMONITOR_LOG_TIME") === "1" });
  await dropPrivileges(config, logger);
  const store = StateStore.open(resolve(config.root, config.settings.state_dir));
  const db = store.db;
  try {
    const alerts = alertSettings(config).settings;
    let built: BuiltChannels;
    try {
      built = await buildChannels(alerts);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems) io.err(formatProblemIn(dir, p));
      io.err(`dmonitor sync: cannot set up alert delivery`);
      return 1;
    }
    using _channels = { [Symbol.dispose]: () => built.close() };
    const notifier = createNotifier({
      db,
      targets: () => alertTargets(alerts),
      silences: async () => (await loadSilences(config.root)).silences,
      log: logger,
    });
    if (values.once) {
      const settings = syncSettings(config, overrides).settings!;
      const own = settings.database ? openDatabase(settings.database) : null;
      try {
        const puller = new SyncPuller(settings, {
          db: own ?? db,
          notifier,
          logger,
          node: config.settings.node,
          historyRetentionMs: config.settings.history_retention,
        });
        const outcomes = await puller.runOnce(stop);
        await deliverDue({ db, channels: built.channels, log: logger, signal: stop });
        for (const o of outcomes) {
          const r = o.result;
          io.out(
            o.ok && r
              ? `${o.site}: ${
                r.busy
                  ? "busy (another puller)"
                  : `ingested ${r.ingested}, duplicates ${r.duplicates}, rejected ${r.rejected}, kept ${r.failed}, config ${r.push}`
              }`
              : `${o.site}: FAILED after ${o.attempts} attempt(s): ${o.error}`,
          );
        }
        return outcomes.every((o) => o.ok) ? 0 : 1;
      } finally {
        own?.close();
      }
    }
    const ctl = new AbortController();
    const signal = stop ? AbortSignal.any([stop, ctl.signal]) : ctl.signal;
    const onStop = () => ctl.abort();
    Deno.addSignalListener("SIGTERM", onStop);
    Deno.addSignalListener("SIGINT", onStop);
    try {
      const running = startSyncPuller(config, { db, notifier, logger, overrides })!;
      const outbox = runOutbox({ db, channels: built.channels, signal, log: logger });
      await new Promise<void>((r) =>
        signal.aborted ? r() : signal.addEventListener("abort", () => r(), { once: true })
      );
      await running.close();
      await outbox;
    } finally {
      Deno.removeSignalListener("SIGTERM", onStop);
      Deno.removeSignalListener("SIGINT", onStop);
    }
    logger.info("sync stopped");
    return 0;
  } finally {
    store.close();
  }
}
