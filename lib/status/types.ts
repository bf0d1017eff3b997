/**
 * The status view: one plain-JSON snapshot of what this node knows, rendered as the page, the JSON
 * API, the terminal view and the metrics. Every renderer reads the same object, so they can never
 * disagree. Times are epoch milliseconds; durations are milliseconds.
 * @module
 */
import type { RawState, Status } from "../runner/result.ts";
import type { PerfItem } from "../runner/perfdata.ts";
import type { AgreementView } from "../agree/tracker.ts";

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
  /** Uptime, timeline and response times from the stored history (absent where not kept). */
  history?: HistoryView;
}

/** A stretch of time in one raw state (OK, WARNING, CRITICAL, ...); null: nothing known. */
export interface TimelineSegment {
  from: number;
  to: number;
  state: string | null;
}

/** Response times of the runs in one interval starting at `at`. */
export interface ResponsePoint {
  at: number;
  avgMs: number;
  maxMs: number;
  runs: number;
  /** Runs that passed. */
  ok: number;
}

/** A check's history as the views draw it (lib/status/history.ts). */
export interface HistoryView {
  /** Share of runs that passed (0-1) over the last 24 h, 7 and 30 UTC days; null: no runs. */
  uptime: { "24h": number | null; "7d": number | null; "30d": number | null };
  /** The state over the last 24 h, oldest first. */
  timeline: { from: number; to: number; segments: TimelineSegment[] };
  /** Hourly response times over the last 24 h, oldest first; hours without runs are absent. */
  response: ResponsePoint[];
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
  /** Its acknowledgement (reminders stop; the recovery is still sent); null or absent: none. */
  acknowledged?: AckView | null;
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
  /** Its clock minus this node's, ms, from the timestamps it signs into its requests; null or
   * absent: no recent request from it. */
  clockOffsetMs?: number | null;
  /** Set when the clocks disagree by more than a few seconds (lib/shared/clock_skew.ts). */
  clockProblem?: string | null;
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

/**
 * A silence in force: notifications for it are muted until `until`. Either shared by the cluster
 * (`dmonitor silence add`, with its id, who added it and on which node) or a file in this node's
 * silence.d/ (`file`).
 */
export interface SilenceView {
  host: string;
  /** null: every test of the host. */
  test: string | null;
  until: number;
  reason: string;
  /** Shared silences: the id `dmonitor silence remove` takes. Absent for a silence.d/ file. */
  id?: string;
  /** Shared: who added it and on which node, when. */
  by?: string;
  origin?: string;
  createdAt?: number;
  /** A silence.d/ file of this node (`silence.d/db1/ssh`). */
  file?: string;
}

/** Who acknowledged an incident (`dmonitor ack`), on which node, when and why. */
export interface AckView {
  by: string;
  origin: string;
  at: number;
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
  /**
   * Configuration agreement (cluster mode only; absent from older nodes): this node's digest,
   * each peer's (agrees, or which host/tests differ), and the tests too few nodes run to ever be
   * confirmed.
   */
  agreement?: AgreementView;
}

/** One of a check's incidents as its own page shows it. */
export interface CheckIncidentView {
  id: string;
  /** The phase of an open incident (down, recovering, ...), or `closed`. */
  state: string;
  startedAt: number;
  endedAt: number | null;
  /** Every node's vote: the current round for an open incident, else the round that decided
   * its last notice. */
  votes: VoteView[];
  /** The notices sent for it, per recipient, oldest first. */
  notices: NoticeView[];
}

/** One stored run of a check. */
export interface RunView {
  at: number;
  status: string;
  state: string;
  output: string;
  durationMs: number;
  perfdata: PerfItem[];
}

/** Everything `/check/<host>/<test>` shows. */
export interface CheckPageView {
  node: string;
  version: string;
  generatedAt: number;
  check: CheckView;
  /** The last 30 UTC days, oldest first (days without runs included, with 0 runs). */
  days: { day: number; runs: number; ok: number; avgMs: number | null }[];
  /** State changes kept (history_retention), newest first. */
  changes: { at: number; status: string; state: string; output: string }[];
  /** The last stored runs, newest first. */
  runs: RunView[];
  /** Its incidents, newest first: the open one, then those the outbox still holds notices of. */
  incidents: CheckIncidentView[];
}

/** Where renderers get the view. The running node implements it; tests pass fixed views. */
export interface StatusSource {
  /** `history: false`: without the checks' stored history (metrics need none; cheaper). */
  view(opts?: { history?: boolean }): StatusView;
  /** One check's page; null when no such check is configured. Absent: no per-check pages. */
  check?(host: string, test: string): CheckPageView | null;
}
