/**
 * Configuration agreement: every node summarizes what must agree across the cluster (each
 * host/test with its parameters, interval and timeout; the quorum and the node set) into a digest
 * it sends on every heartbeat reply; a peer whose digest differs is asked for its entries
 * (`GET /v1/config`, signed), and the differences, and the tests too few nodes run to ever reach
 * their quorum, are shown in every view and logged once.
 *
 * @example
 * ```ts
 * const mine = summarize(config, peerNames);
 * const theirs = parseConfigReply(json);
 * console.log(renderDiff({ node: "n1", ...mine }, theirs));
 * ```
 * @module
 */
export {
  CLUSTER_KEY,
  digestOf,
  type Entry,
  redact,
  summarize,
  testEntry,
  type TreeSummary,
} from "./digest.ts";
export { describeDiff, diffEntries, type EntryDiff, type FieldDiff, renderDiff } from "./diff.ts";
export { splitKey, type Unconfirmable, unconfirmable } from "./reach.ts";
export {
  AgreementTracker,
  type AgreementView,
  MAX_LISTED,
  type PeerAgreement,
  type TrackerDeps,
} from "./tracker.ts";
export { CONFIG_PATH, digestFromPing, MAX_CONFIG_REPLY_BYTES, parseConfigReply } from "./wire.ts";
