/**
 * Shared shapes of the consensus part: votes, incidents and the notifications they produce.
 * Owned by lib/quorum; lib/alerts consumes `Notification`.
 * @module
 */

/** One node's answer about a host+test. UNKNOWN: the peer does not have that test; UNREACHABLE:
 * the peer did not answer in time or answered garbage. Neither ever counts as a failure. */
export type VoteStatus = "OK" | "FAIL" | "TIMEOUT" | "UNKNOWN" | "UNREACHABLE";

export interface Vote {
  node: string;
  status: VoteStatus;
  output: string;
  /** Epoch ms when that node ran the check (or when we gave up on it). */
  at: number;
}

export type NotificationKind = "down" | "recovered" | "reminder";

/** A message to deliver for an incident, built by the consensus part, delivered by lib/alerts. */
export interface Notification {
  /** Stable and unique: the same id is never delivered twice to the same recipient. */
  id: string;
  kind: NotificationKind;
  incidentId: string;
  host: string;
  test: string;
  /** Epoch ms the outage started (first confirmed failure). */
  startedAt: number;
  /** Epoch ms it ended (recovered notices only). */
  endedAt: number | null;
  /** Every node's vote that decided this notification. */
  votes: Vote[];
  /** How many nodes are configured in the cluster, counting the notifier. */
  nodesTotal: number;
  /** Name of the node sending it. */
  notifier: string;
  /** Site name for incidents pulled from an isolated network, null for local ones. */
  site: string | null;
}
