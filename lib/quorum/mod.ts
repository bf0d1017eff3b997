/**
 * Consensus alerting: the verdict of a round of votes, the incident lifecycle of each host+test,
 * and the rule that makes exactly one node send each notice. The decisions are pure functions
 * (`decideQuorum`, `nextIncident`, `planClaim`); `IncidentEngine` is the shell that performs their
 * effects. See README.md in this folder for the protocol and its failure modes.
 *
 * @example
 * ```ts
 * const engine = new IncidentEngine({ self: "a", peers: ["b:2929"], rule, timing, ask, notifier });
 * await engine.round("www.example.com", "http", result); // after every local check
 * ```
 * @module
 */
export * from "./types.ts";
export {
  compareNodes,
  decideQuorum,
  isDegraded,
  isFailingVote,
  localVote,
  type QuorumDecision,
  quorumNeeded,
  type Verdict,
} from "./quorum.ts";
export {
  type ClaimInput,
  type ClaimPlan,
  electNotifier,
  isNoticeLive,
  mergeNotice,
  peerPresence,
  planClaim,
} from "./election.ts";
export {
  type Effect,
  type IncidentContext,
  type IncidentEvent,
  initialIncident,
  nextIncident,
  noticeId,
  type QuorumTiming,
  type Step,
  toView,
} from "./incident.ts";
export {
  type HealthTable,
  type PeerHealth,
  reachableCount,
  recordAnswers,
  sanitizeAnswers,
} from "./health.ts";
export {
  defaultTiming,
  roundDeadlineFor,
  type RoundTiming,
  settleFor,
  viewDeadlineFor,
} from "./timing.ts";
export { type AskFn, type EngineOptions, type EngineSnapshot, IncidentEngine } from "./engine.ts";
