/**
 * The status view: one plain-JSON snapshot of what this node knows, rendered as the page, the JSON
 * API, the terminal view and the metrics. Every renderer reads the same object, so they can never
 * disagree. Times are epoch milliseconds; durations are milliseconds.
 * @module
 */
import type { RawState, Status } from "../runner/result.ts";
import type { PerfItem } from "../runner/perfdata.ts";

/** A check's pass/fail, or PENDING before its first run. */
export type CheckStatus = Status | "PENDING";

export interface CheckView {
  host: string;
  test: string;
  status: CheckStatus;
  /** What the check itself said (OK, WARNING, CRITICAL, ...); null before the first run. */
  state: RawState | null;
  /** The last run's output; for a failing plugin it ends with ` [stderr: ...]` when it wrote any. */
  output: string;
  /**
   * The last run's perfdata, parsed (lib/runner/perfdata.ts): at most 20 items, values in the
   * plugin's own unit. Absent in views from older nodes.
   */
  perfdata?: PerfItem[];
  /** When the check entered its current status; null before the first run. */
  since: number | null;
  lastRun: number | null;
  durationMs: number | null;
  intervalMs: number;
  /**
   * The consensus phase of this host+test (ok, suspect, local-only, unconfirmed, down, ...), or
   * null when consensus is not wired in. `local-only` means this node's view differs.
   */
  phase: string | null;
}

/** One node's vote in an incident. */
export interface VoteView {
  node: string;
  /** OK, FAIL, TIMEOUT, UNKNOWN or UNREACHABLE. */
  status: string;
  output: string;
  at: number;
}

/**
 * What became of one notice (down, reminder, recovered) for one recipient: `queued` (waiting for
 * its first attempt), `retrying` (an attempt failed; `lastError`, next try at `nextAt`), `failed`
 * (given up; `lastError`), `delivered` (`at`, by node `by`), `muted` (a silence), or
 * `no recipients` (alert.d/ was empty when it was due).
 */
export interface NoticeView {
  kind: string;
  /** `email:ops@example.com`, `webhook:ops`, `command:pager`; null when nobody was configured, or
   * for a delivery another node reported (this node's outbox does not hold it). */
  recipient: string | null;
  state: "queued" | "retrying" | "failed" | "delivered" | "muted" | "no recipients";
  /** Delivered: when; otherwise when it was queued. */
  at: number;
  /** Queued or retrying: when the next attempt is due. */
  nextAt: number | null;
  /** The node that sent (or sends) it. */
  by: string | null;
  attempts: number;
  lastError: string | null;
}

/** An incident that is not closed yet. */
export interface OpenIncident {
  id: string;
  host: string;
  test: string;
  /** Phase: down, recovering, recovered, or (not yet an incident) suspect/local-only/unconfirmed. */
  state: string;
  since: number;
  votes: VoteView[];
  /** The node that sends (or sent) the notification; null while undecided. */
  notifier: string | null;
  /** True only when its down notice was delivered to at least one recipient. */
  notified: boolean;
  /** Each notice per recipient, oldest first (absent in views from older nodes). */
  notices?: NoticeView[];
  /** Remote site the incident came from, null when local. */
  site: string | null;
}

/** A closed incident. */
export interface PastIncident {
  id: string;
  host: string;
  test: string;
  startedAt: number;
  endedAt: number | null;
  notifier: string | null;
  site: string | null;
}

export interface PeerView {
  /** Node name as the peer reported it; null until it answered once. */
  name: string | null;
  /** The nodes.txt entry, `host:port`. */
  address: string;
  /** null: not contacted yet. */
  reachable: boolean | null;
  lastContact: number | null;
  rttMs: number | null;
  /** Failed contacts since the node started. */
  errors: number;
  lastError: string | null;
}

export interface SiteView {
  name: string;
  lastPull: number | null;
  /** How far behind the site's newest result is; null when unknown. */
  lagMs: number | null;
  /** Files ingested (cumulative, kept in the store). */
  files: number;
  errors: number;
  lastError: string | null;
  /** The central node that holds the site's lease and drains it now; null when none does. */
  drainedBy?: string | null;
}

export interface OutboxView {
  /** Messages waiting for (re)delivery. */
  pending: number;
  /** Messages given up on. */
  failed: number;
  /** Creation time of the oldest pending message. */
  oldest: number | null;
}

/** A maintenance silence in force (silence.d/): notifications for it are muted until `until`. */
export interface SilenceView {
  host: string;
  /** null: every test of the host. */
  test: string | null;
  until: number;
  reason: string;
}

export interface StatusView {
  node: string;
  version: string;
  mode: "single-node" | "cluster";
  /** The quorum rule as written: `2` or `50%`. */
  quorum: string;
  degraded: boolean;
  /** Why the node considers itself degraded; null when it is not. */
  degradedReason: string | null;
  /** When this view was taken. */
  generatedAt: number;
  /** When the node started; null when unknown. */
  startedAt: number | null;
  checks: CheckView[];
  incidents: OpenIncident[];
  /** Recent closed incidents, newest first. */
  history: PastIncident[];
  peers: PeerView[];
  sites: SiteView[];
  /** Silences in force now (absent in views from older nodes). */
  silences?: SilenceView[];
  /** null when the alerts outbox is not wired in. */
  outbox: OutboxView | null;
}

/** Where renderers get the view. The running node implements it; tests pass fixed views. */
export interface StatusSource {
  view(): StatusView;
}
