/**
 * The central side of isolated networks, Pandora's Sync server done safely: pull every site's
 * Tentacle server (TLS with client certificates), drain its spool exactly once into the central
 * store, notify the site's incidents once each through the node's alert notifier, raise "site
 * unreachable" when a site stays out of reach, push each site's configuration. Design and wiring:
 * README.md beside this file.
 *
 * ```ts
 * const sync = await startSyncPuller(config, { db: store.db, pg: resources.store, notifier, logger });
 * // status page: sites: sync?.sites() ?? []
 * await sync?.close();
 * ```
 * @module
 */
export {
  type AgentData,
  AgentDataError,
  type AgentModule,
  parseAgentData,
  parseAttributes,
} from "./agent_parse.ts";
export { type BackoffPolicy, syncBackoff } from "./backoff.ts";
export {
  decideHealth,
  type HealthAction,
  type SiteHealth,
  unreachableId,
  unreachableNotification,
} from "./health.ts";
export { pushSiteConfig, readSiteBundle } from "./push.ts";
export { address, type CycleOutcome, type PullerDeps, SyncPuller } from "./puller.ts";
export { openSyncStore } from "./run.ts";
export {
  ingestLeftovers,
  ingestLocalFile,
  oldestFirst,
  type PullResult,
  pullSite,
  siteClientOptions,
  siteDirs,
} from "./session.ts";
export {
  PANDORA_KEYS,
  parseSyncSection,
  readPandoraConf,
  requireSites,
  type SiteConfig,
  SYNC_DEFAULTS,
  SYNC_KEYS,
  syncSection,
  type SyncSettings,
} from "./settings.ts";
export {
  centralNotification,
  noticeSeq,
  parsePandoraTime,
  readIncidentsModule,
} from "./incidents.ts";
export {
  guardStore,
  type IngestOutcome,
  type IngestStatus,
  type Lease,
  type LeaseGrant,
  LeaseLostError,
  planIngest,
  type SiteRow,
  type SyncStore,
} from "./store.ts";
export { SqliteSyncStore } from "./store_sqlite.ts";
export { PgSyncStore } from "./store_pg.ts";
export { leaseMs } from "./puller.ts";
export { type RunningSync, startSyncPuller, type SyncDeps } from "./run.ts";
