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
import { describePg, openPg, type PgConnect } from "../pg/mod.ts";
import type { SyncStore } from "./store.ts";
import { SqliteSyncStore } from "./store_sqlite.ts";
import { PgSyncStore } from "./store_pg.ts";
import type { TentacleClient, TentacleClientOptions } from "../tentacle/mod.ts";
import { leaseMs, SyncPuller } from "./puller.ts";
import { requireSites, type SyncSettings } from "./settings.ts";

export interface SyncDeps {
  /** The node's state database (`StateStore.db`); used unless `sync.database` or `store:` names another. */
  db: DatabaseSync;
  /** The `store:` section with its files read (lib/node/resources.ts); null or absent: SQLite. */
  pg?: PgConnect | null;
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
 * The central store a node's settings name: PostgreSQL (`store:`, migrated at open, under the
 * advisory lock), a SQLite file of its own (`sync.database`), or the node's state database.
 */
export async function openSyncStore(
  settings: SyncSettings,
  deps: { db: DatabaseSync; pg?: PgConnect | null; node: string },
): Promise<{ store: SyncStore; where: string; close(): Promise<void> }> {
  if (deps.pg) {
    const sql = openPg(deps.pg);
    try {
      const store = await PgSyncStore.open(sql, { node: deps.node, owns: true });
      return { store, where: describePg(deps.pg.settings), close: () => store.close() };
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw e;
    }
  }
  const own = settings.database ? openDatabase(settings.database) : null;
  const store = new SqliteSyncStore(own ?? deps.db);
  return {
    store,
    where: `sqlite ${settings.database ?? "state.db"}`,
    close: () => Promise.resolve(own?.close()),
  };
}

/**
 * Starts the puller of a node whose configuration has a `sync:` section (with `syncserver` not 0);
 * null otherwise. Throws ConfigError when it lists no site, StoreError when its store cannot be
 * opened or migrated.
 */
export async function startSyncPuller(
  config: Config<{ sync: SyncSettings | null }>,
  deps: SyncDeps,
): Promise<RunningSync | null> {
  const settings = config.sections.sync;
  const missing = settings ? requireSites(settings) : null;
  if (missing) throw new ConfigError([missing]);
  if (!settings || !settings.enabled) return null;
  const node = deps.node ?? config.settings.node;
  const opened = await openSyncStore(settings, { db: deps.db, pg: deps.pg, node });
  const puller = new SyncPuller(settings, {
    store: opened.store,
    notifier: deps.notifier,
    logger: deps.logger,
    clock: deps.clock,
    node,
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
    store: opened.where,
    lease_ms: leaseMs(settings.intervalMs),
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
      await opened.close();
    },
  };
}
