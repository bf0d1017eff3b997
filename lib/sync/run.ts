/**
 * A central node's running puller: one loop per site, started from the typed `sync:` settings.
 * Public surface: mod.ts.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Config } from "../config/types.ts";
import { ConfigError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Notifier } from "../quorum/types.ts";
import type { Clock } from "../schedule/mod.ts";
import type { SiteView } from "../status/types.ts";
import { openDatabase } from "../store/mod.ts";
import type { TentacleClient, TentacleClientOptions } from "../tentacle/mod.ts";
import { SyncPuller } from "./puller.ts";
import { requireSites, type SyncSettings } from "./settings.ts";

export interface SyncDeps {
  /** The node's state database (`StateStore.db`); used unless `sync.database` names another. */
  db: DatabaseSync;
  /** The node's alert notifier (`createNotifier(...)`). */
  notifier: Notifier;
  logger: Logger;
  clock?: Clock;
  /** This node's name, as the notifier of "site unreachable" (default `settings.node`). */
  node?: string;
  connect?: (options: TentacleClientOptions) => Promise<TentacleClient>;
  random?: () => number;
}

/** A running puller. */
export interface RunningSync {
  readonly puller: SyncPuller;
  /** Per-site status for the status page (`StatusView.sites`). */
  sites(): SiteView[];
  /** Stops every site loop (a session in progress is abandoned at its next step) and waits. */
  close(): Promise<void>;
}

/**
 * Starts the puller of a node whose configuration has a `sync:` section (with `syncserver` not 0);
 * null otherwise. Throws ConfigError when it lists no site.
 */
export function startSyncPuller(
  config: Config<{ sync: SyncSettings | null }>,
  deps: SyncDeps,
): RunningSync | null {
  const settings = config.sections.sync;
  const missing = settings ? requireSites(settings) : null;
  if (missing) throw new ConfigError([missing]);
  if (!settings || !settings.enabled) return null;
  const own = settings.database ? openDatabase(settings.database) : null;
  const puller = new SyncPuller(settings, {
    db: own ?? deps.db,
    notifier: deps.notifier,
    logger: deps.logger,
    clock: deps.clock,
    node: deps.node ?? config.settings.node,
    random: deps.random,
    historyRetentionMs: config.settings.history_retention,
    connect: deps.connect,
  });
  const ctl = new AbortController();
  const log = deps.logger.child("sync");
  log.info("sync puller started", {
    sites: settings.sites.map((s) => s.name).join(","),
    interval: settings.intervalMs,
    parallel: settings.parallel,
    tls: settings.tls !== null,
  });
  const running = puller.run(ctl.signal).catch((e) =>
    log.error("sync puller stopped", { error: (e as Error).message })
  );
  return {
    puller,
    sites: () => puller.views(),
    close: async () => {
      ctl.abort();
      await running;
      own?.close();
    },
  };
}
