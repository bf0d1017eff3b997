/**
 * Silences and acknowledgements shared by every node of a cluster: the pure merge (`merge.ts`),
 * their table in the state database (`store.ts`), the service that applies the CLI's changes and
 * runs anti-entropy with the peers (`service.ts`), their routes on the signed peer API
 * (`peer_routes.ts`) and on the local listener for the CLI (`local_routes.ts`), and the clock
 * offsets of the peers (`clock_skew.ts`).
 *
 * @example
 * ```ts
 * const shared = new SharedState({ store: new SharedStore(db), nodeName, peers, key, log });
 * const peerApp = createPeerApp({ ..., mounts: [sharedPeerRoutes(() => shared, nodeName)],
 *   observeClock: (p, sent, now) => shared.skew.observe(p, sent, now) });
 * void shared.run(signal);
 * ```
 * @module
 */
export type { Removal, SharedAck, SharedRecord, SharedSilence } from "./types.ts";
export { recordKey } from "./types.ts";
export {
  ACK_KEEP_MS,
  canonical,
  digest,
  liveSilences,
  MAX_RECORDS,
  mergeRecords,
  obsolete,
  parseRecord,
  parseRecords,
  pick,
  SILENCE_KEEP_MS,
} from "./merge.ts";
export { SharedStore } from "./store.ts";
export {
  type Delivery,
  type OpenIncidentOf,
  SharedRequestError,
  SharedState,
  SYNC_MS,
  type SyncState,
} from "./service.ts";
export { sharedPeerRoutes } from "./peer_routes.ts";
export {
  type FileSilence,
  LOCAL_FORBIDDEN,
  type LocalRouteDeps,
  sharedLocalRoutes,
} from "./local_routes.ts";
export { CLOCK_SKEW_LIMIT_MS, type ClockOffset, ClockSkew, skewProblem } from "./clock_skew.ts";
