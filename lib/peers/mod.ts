/**
 * The authenticated peer protocol: signing and verification (`auth.ts`), the endpoint
 * (`createPeerApp`), its listener (`startPeerServer`) and the client (`askPeers`,
 * `announceToPeers`, `createPeerRpc` for the consensus engine).
 *
 * @example
 * ```ts
 * checkPeerKeyRequirement(config);
 * const app = createPeerApp({ nodeName, key: config.peerKey, log, confirm, view, hear, state });
 * await using server = startPeerServer({ hostname: "0.0.0.0", port: 2929, app });
 * const answers = await askPeers(config.peers, { host, test }, { key, nodeName, deadlineMs: 12000 });
 * ```
 * @module
 */
export {
  AuthError,
  type AuthReason,
  HEADERS,
  importPeerKey,
  randomNonce,
  RequestVerifier,
  signReply,
  signRequest,
  StaleRequestError,
  verifyReply,
} from "./auth.ts";
export { NonceCache, type NonceVerdict } from "./nonce_cache.ts";
export {
  type BatchConfirmRequest,
  type BatchIncidentRequest,
  type BatchReply,
  type BatchViewRequest,
  type ConfirmItem,
  MAX_BATCH_ITEMS,
  parseBatchConfirm,
  parseBatchIncident,
  parseBatchKnown,
  parseBatchReply,
  parseBatchView,
  parseIncidentView,
  parsePeerReply,
  parseTargetRequest,
  type PeerReply,
  type TargetRequest,
} from "./wire.ts";
export {
  createPeerApp,
  DeadlineError,
  type PeerAppDeps,
  type PeerEnv,
  type PeerRoute,
  type PeerRoutes,
  type PeerRouteTools,
} from "./app.ts";
export {
  announceBatch,
  announceToPeers,
  askPeers,
  callPeer,
  confirmBatch,
  createPeerHttpClient,
  peerBaseUrl,
  PeerBusyError,
  type PeerClientOptions,
  peerLabel,
  peerName,
  viewBatch,
} from "./client.ts";
export { type Beat, createPeerRpc, type PeerRpc, type PeerRpcOptions } from "./rpc.ts";
export {
  checkPeerKeyRequirement,
  MIN_PEER_KEY_LENGTH,
  type PeerServer,
  type PeerServerOptions,
  startPeerServer,
} from "./server.ts";
export { loadPeerTls, parsePeerSettings, type PeerSettings, type PeerTls } from "./settings.ts";
