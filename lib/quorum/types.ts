/**
 * Shared shapes of the consensus part: votes, incidents and the notifications they produce.
 * Owned by lib/quorum; lib/alerts consumes `Notification` and implements `Notifier`; lib/peers
 * carries `IncidentView` and `PeerAnswer` on the wire. Every shape here is plain JSON.
 * @module
 */

/** One node's answer about a host+test. UNKNOWN: the peer does not have that test (or is degraded);
 * UNREACHABLE: the peer did not answer in time or answered garbage. Neither ever counts as a failure. */
export type VoteStatus = "OK" | "FAIL" | "TIMEOUT" | "UNKNOWN" | "UNREACHABLE";

export interface Vote {
  /** Node name as the node reports it; for a peer that never answered, its nodes.txt address. */
  node: string;
  status: VoteStatus;
  output: string;
  /** Epoch ms when that node ran the check (or when we gave up on it). */
  at: number;
}

export type NotificationKind = "down" | "recovered" | "reminder";

/** A message to deliver for an incident, built by the consensus part, delivered by lib/alerts. */
export interface Notification {
  /** Stable and unique: the same id is never delivered twice to the same recipient. A node that
   * takes a notice over from a dead notifier reuses the same id, so receivers can deduplicate. */
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

/** Where notifications go. `notify` resolves once the notification is durably accepted for delivery
 * (an outbox row, a sent mail); it rejects when it was not, and the consensus part retries. */
export interface Notifier {
  notify(n: Notification): Promise<void>;
}

/**
 * Lifecycle of one host+test on one node.
 * - `ok`: nothing wrong (or the last incident is closed).
 * - `suspect`: the local check failed; the peers are being asked.
 * - `local-only`: the local check fails, peers answered and do not confirm: this node's view differs.
 * - `unconfirmed`: the local check fails, too few peers answered to confirm or deny.
 * - `down`: a quorum confirmed the outage; an incident is open.
 * - `recovering`: a quorum saw it pass again once; waiting for a second confirmation (anti-flap).
 * - `recovered`: recovery confirmed; the recovery notice is being agreed on.
 */
export type Phase =
  | "ok"
  | "suspect"
  | "local-only"
  | "unconfirmed"
  | "down"
  | "recovering"
  | "recovered";

/** The two notices that follow the exactly-one-notifier protocol (reminders do not). */
export type NoticeKind = "down" | "recovered";

/** A notice some node committed to send. Committing is exclusive; delivery is at-least-once. */
export interface Notice {
  /** Node that committed and delivers it. */
  by: string;
  committedAt: number;
  /** When `by` had it accepted by its notifier; null while in flight. */
  deliveredAt: number | null;
  /** Notifiers skipped by hand-over before `by` took the notice on (they died after committing). */
  passed: string[];
}

/** One outage of one host+test, as far as this node knows it. */
export interface IncidentRecord {
  /** Cluster-wide id: the id of whoever committed the down notice, adopted by the others. */
  id: string;
  startedAt: number;
  /** When recovery was first confirmed; null while down. */
  endedAt: number | null;
  down: Notice | null;
  recovered: Notice | null;
}

/** What a node publishes about one host+test to its peers (confirm answers, /v1/state). */
export interface IncidentView {
  host: string;
  test: string;
  phase: Phase;
  /** The notice this node is currently claiming (it believes it is the one to send it). A node
   * claims as soon as its own check says so (a failure with nothing open, a pass while down), ahead
   * of the verdict, so the claim is visible while the confirm round runs. */
  claim: NoticeKind | null;
  /** While claiming: the settle time of that claim. The claimer's commit round finishes within it,
   * so a peer that sees this claim waits at least this long after its own claim before it
   * commits (see election.ts). Absent from nodes that do not say: their claims count as the
   * longest settle time. */
  settleMs?: number | null;
  /** The open incident (phases down, recovering, recovered), else null. */
  incident: IncidentRecord | null;
  /** The most recently closed incident, so late nodes learn its recovery was already sent. */
  closed: IncidentRecord | null;
}

/** Everything one node keeps about one host+test; persisted as JSON, restored on start. */
export interface IncidentState extends IncidentView {
  /** Epoch ms the current phase was entered. */
  since: number;
  /** Epoch ms this node started claiming `claim` (the claim has been visible since then). */
  claimedAt: number | null;
  /** Votes of the last confirm round (what decided the phase). */
  votes: Vote[];
  /** Reminders already sent for the open incident. */
  reminders: number;
  /** An open incident a peer announced while this node had none open: adopted if this node
   * confirms the outage later, so it never notifies twice for an outage whose notifier died. */
  heard: IncidentRecord | null;
}

/** What this node answers a peer about one host+test (the body of a confirm or view reply). */
export interface LocalAnswer {
  status: Exclude<VoteStatus, "UNREACHABLE">;
  output: string;
  /** Epoch ms the check behind `status` ran. */
  at: number;
  incident: IncidentView | null;
}

/** One peer's answer to one round, as the peer client returns it. */
export interface PeerAnswer {
  /** The peer's address as written in nodes.txt (`host:port`). */
  peer: string;
  /** The node name the peer reported; null when it gave no valid answer. */
  node: string | null;
  /** Status UNREACHABLE when there was no valid, authenticated answer in time. */
  vote: Vote;
  incident: IncidentView | null;
  /** Why the peer counts as unreachable, for logs. */
  error?: string;
  latencyMs: number;
}

/** A peer answer as the pure core sees it: with how long the peer has been unreachable. */
export interface PeerInfo extends PeerAnswer {
  /** Epoch ms of the first failed contact since the last good one; null when it answered. */
  unreachableSince: number | null;
}
