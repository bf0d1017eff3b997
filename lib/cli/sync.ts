/**
 * `dmonitor sync`: the central puller on its own, for a central machine that does not run
 * `dmonitor run` with a `sync:` section, or from cron with `--once`. Alerts go through the same
 * notifier and outbox as the node's (alert.d/, smtp:), in the node's state database.
 * @module
 */
import { resolve } from "node:path";
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import { buildChannels, type BuiltChannels } from "../alerts/mod.ts";
import { StateStore } from "../store/mod.ts";
import {
  openSyncStore,
  readPandoraConf,
  requireSites,
  startSyncPuller,
  SyncPuller,
} from "../sync/mod.ts";
import { loadPgFiles, type PgConnect } from "../pg/files.ts";
import { daemonLogger, type Io, noPositionals, parseFlags } from "./args.ts";
import { loadNodeConfig, type NodeConfig } from "../node/load.ts";
import { createAlerting } from "../node/alerting.ts";
import { dropPrivileges } from "../privilege/mod.ts";
import { preloadBeforeDrop } from "./preload.ts";

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
  noPositionals("sync", positionals);
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
  let config: NodeConfig;
  try {
    config = await loadNodeConfig(dir, { syncOverrides: overrides });
    const settings = config.sections.sync;
    const missing = settings ? requireSites(settings) : null;
    if (missing) throw new ConfigError([missing]);
    if (!settings) {
      throw new ConfigError([{
        file: "dmonitor.yaml",
        key: "sync",
        message: "is missing: there is no site to pull (or pass --pandora-conf)",
      }]);
    }
    if (!settings.enabled) {
      io.err("dmonitor sync: syncserver is 0; nothing to do");
      return 0;
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) io.err(formatProblemIn(dir, p));
    io.err(`dmonitor sync: ${e.problems.length} configuration problem(s) in ${dir}`);
    return 1;
  }
  const settings = config.sections.sync!;
  // The store's password and TLS files are read before the switch to run_as, like other secrets.
  let pg: PgConnect | null = null;
  try {
    pg = config.sections.store ? await loadPgFiles(config.sections.store) : null;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) io.err(formatProblemIn(dir, p));
    return 1;
  }

  const logger = daemonLogger();
  await preloadBeforeDrop({ mail: config.recipients.length > 0 });
  await dropPrivileges(config, logger);
  const store = StateStore.open(resolve(config.root, config.settings.state_dir));
  const db = store.db;
  try {
    let built: BuiltChannels;
    try {
      built = await buildChannels(config.sections.alerts);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems) io.err(formatProblemIn(dir, p));
      io.err(`dmonitor sync: cannot set up alert delivery`);
      return 1;
    }
    using alerting = createAlerting({
      db,
      root: config.root,
      settings: config.sections.alerts,
      channels: built,
      logger,
    });
    const notifier = alerting.notifier;
    if (values.once) {
      const opened = await openSyncStore(settings, { db, pg, node: config.settings.node });
      try {
        const puller = new SyncPuller(settings, {
          store: opened.store,
          notifier,
          logger,
          node: config.settings.node,
          historyRetentionMs: config.settings.history_retention,
        });
        const outcomes = await puller.runOnce(stop);
        await alerting.deliverNow(stop);
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
        await opened.close();
      }
    }
    const ctl = new AbortController();
    const signal = stop ? AbortSignal.any([stop, ctl.signal]) : ctl.signal;
    const onStop = () => ctl.abort();
    Deno.addSignalListener("SIGTERM", onStop);
    Deno.addSignalListener("SIGINT", onStop);
    try {
      const running = (await startSyncPuller(config, { db, pg, notifier, logger }))!;
      const outbox = alerting.run(signal);
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
