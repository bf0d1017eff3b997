/**
 * The durable outbox: one SQLite row per notification x target, written before anything is sent
 * and marked sent only after the other side accepted it. `(notification_id, recipient)` is UNIQUE,
 * so queueing the same notification twice delivers it once. Sent rows are kept (and pruned after
 * a retention period) precisely so that a late duplicate still finds them.
 *
 * Delivery is at least once: a node killed after the server said 250 but before the row was
 * marked sent (a window of one SQLite write) sends that message again after restart. Losing a page
 * is worse than a duplicate, and the stable Message-ID lets mail software fold the copy.
 * @module
 */
import { transaction } from "../store/mod.ts";
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { StoreError } from "../errors/mod.ts";
import { procStat } from "../runtime/proc.ts";
import { renderSubject } from "./render.ts";
import type { ChannelKind, Deliverable, DeliverableKind, Target } from "./types.ts";
import { targetKey } from "./types.ts";

/** pending: to send (now or at next_at); sent: accepted; failed: given up; muted: silenced. */
export type OutboxStatus = "pending" | "sent" | "failed" | "muted";

export interface OutboxRow {
  id: number;
  notificationId: string;
  /** `email:ops@example.com`, `webhook:ops`, `command:pager`, `alertmanager:am`, or `none:`
   * (nobody configured). */
  recipient: string;
  channel: ChannelKind | "none";
  /** Email address, or webhook/command name. */
  target: string;
  incidentId: string;
  kind: DeliverableKind;
  host: string;
  test: string;
  /** The subject line, for listings. */
  summary: string;
  /** The notification as JSON: a row can be delivered after a restart with nothing else. */
  payload: string;
  status: OutboxStatus;
  attempts: number;
  createdAt: number;
  /** When the next attempt is due (pending), or when it was claimed (lease). */
  nextAt: number;
  sentAt: number | null;
  lastError: string | null;
  /** What the other side said when it accepted (SMTP reply, HTTP status, command output). */
  receipt: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_outbox (
  id INTEGER PRIMARY KEY,
  notification_id TEXT NOT NULL,
  recipient TEXT NOT NULL,
  channel TEXT NOT NULL,
  target TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  host TEXT NOT NULL,
  test TEXT NOT NULL,
  summary TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'muted')),
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_at INTEGER NOT NULL,
  sent_at INTEGER,
  last_error TEXT,
  receipt TEXT,
  lease_pid INTEGER,
  lease_start INTEGER,
  UNIQUE (notification_id, recipient)
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (status, next_at);
CREATE INDEX IF NOT EXISTS alert_outbox_incident ON alert_outbox (incident_id, kind);
`;

const COLUMNS = `id, notification_id AS notificationId, recipient, channel, target,
  incident_id AS incidentId, kind, host, test, summary, payload, status, attempts,
  created_at AS createdAt, next_at AS nextAt, sent_at AS sentAt, last_error AS lastError, receipt`;

/**
 * When process `pid` started (clock ticks after boot, field 22 of /proc/<pid>/stat): with its pid
 * this names one process, where a pid alone is reused (a node restarted in a container is PID 1
 * every time). null when no such process runs; undefined without /proc (unknown).
 */
export function procStart(pid: number): number | null | undefined {
  const stat = procStat(pid);
  if (stat !== null) return Number.isFinite(stat.start) ? stat.start : undefined;
  try {
    Deno.statSync("/proc/self");
  } catch {
    return undefined;
  }
  return null;
}

/** The process that holds a lease: pid and start time (null where /proc could not say). */
export interface LeaseHolder {
  pid: number;
  start: number | null;
}

let self: LeaseHolder | undefined;

/** This process as a lease holder (read once). */
export function selfHolder(): LeaseHolder {
  return self ??= { pid: Deno.pid, start: procStart(Deno.pid) ?? null };
}

/** Keeps stored error texts to one readable line. */
function short(s: string, max = 500): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? flat.slice(0, max) + "..." : flat;
}

/** The outbox over an open database (which the caller opened, with WAL, and closes). */
export class Outbox {
  constructor(readonly db: DatabaseSync) {
    try {
      db.exec(SCHEMA);
      // Databases from before lease_pid (the process that took a row for an attempt).
      const cols = db.prepare("PRAGMA table_info(alert_outbox)").all() as { name: string }[];
      if (!cols.some((c) => c.name === "lease_pid")) {
        db.exec("ALTER TABLE alert_outbox ADD COLUMN lease_pid INTEGER");
      }
      // And from before lease_start (when that process started: a pid alone comes back, as PID 1
      // in a container does after every restart).
      if (!cols.some((c) => c.name === "lease_start")) {
        db.exec("ALTER TABLE alert_outbox ADD COLUMN lease_start INTEGER");
      }
    } catch (e) {
      throw new StoreError(`Cannot create the alert_outbox table: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** Statements by SQL text, prepared once: a mass failure queues and sends thousands of rows,
   * and preparing costs more than running. Bounded (SQL with `IN (?, ...)` lists varies). */
  readonly #statements = new Map<string, StatementSync>();

  #prepare(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (st === undefined) {
      if (this.#statements.size >= 64) this.#statements.clear();
      st = this.db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  #tx<T>(fn: () => T): T {
    return transaction(this.db, fn);
  }

  #rows(where: string, ...params: SQLInputValue[]): OutboxRow[] {
    return this.#prepare(`SELECT ${COLUMNS} FROM alert_outbox ${where}`).all(
      ...params,
    ) as unknown as OutboxRow[];
  }

  /**
   * Queues `n` for every target in one transaction; returns how many rows are new (0 when the
   * notification was already queued for them). `status: "muted"` records a silenced notification
   * without ever sending it; `note` is kept as its last_error.
   */
  enqueue(
    n: Deliverable,
    targets: readonly Target[],
    now: number,
    opts: { status?: "pending" | "muted"; note?: string } = {},
  ): number {
    const rows = targets.map((t) => ({
      recipient: targetKey(t),
      channel: t.channel,
      target: t.name,
    }));
    return this.#insert(n, rows, now, opts.status ?? "pending", opts.note ?? null);
  }

  /**
   * Queues `n` for every target as pending but not due before `holdUntil`, and returns the ids of
   * the new rows. The notifier persists a notification this way before it consults anything
   * optional (silence.d), then {@link release}s or {@link mute}s the rows; a node that dies in
   * between sends them when the hold ends (a duplicate page beats a missed one).
   */
  enqueueHeld(
    n: Deliverable,
    targets: readonly Target[],
    now: number,
    holdUntil: number,
  ): number[] {
    const rows = targets.map((t) => ({
      recipient: targetKey(t),
      channel: t.channel,
      target: t.name,
    }));
    return this.#insertRows(n, rows, now, holdUntil, "pending", null);
  }

  /** Makes held rows due now. */
  release(ids: readonly number[], now: number): void {
    if (ids.length === 0) return;
    this.#prepare(
      `UPDATE alert_outbox SET next_at = ? WHERE status = 'pending' AND attempts = 0
       AND id IN (${ids.map(() => "?").join(", ")})`,
    ).run(now, ...ids);
  }

  /** Marks held rows muted (never sent), with `note` as their last_error. */
  mute(ids: readonly number[], note: string): void {
    if (ids.length === 0) return;
    this.#prepare(
      `UPDATE alert_outbox SET status = 'muted', last_error = ? WHERE status = 'pending'
       AND attempts = 0 AND id IN (${ids.map(() => "?").join(", ")})`,
    ).run(note, ...ids);
  }

  /** Records a notification that had nowhere to go, as failed, so `dmonitor outbox` shows it. */
  recordUndeliverable(n: Deliverable, now: number, reason: string): number {
    return this.#insert(
      n,
      [{ recipient: "none:", channel: "none", target: "" }],
      now,
      "failed",
      reason,
    );
  }

  #insert(
    n: Deliverable,
    rows: { recipient: string; channel: string; target: string }[],
    now: number,
    status: OutboxStatus,
    note: string | null,
  ): number {
    return this.#insertRows(n, rows, now, now, status, note).length;
  }

  #insertRows(
    n: Deliverable,
    rows: { recipient: string; channel: string; target: string }[],
    now: number,
    nextAt: number,
    status: OutboxStatus,
    note: string | null,
  ): number[] {
    const stmt = this.#prepare(
      `INSERT OR IGNORE INTO alert_outbox (notification_id, recipient, channel, target,
        incident_id, kind, host, test, summary, payload, status, created_at, next_at, last_error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const payload = JSON.stringify(n);
    const summary = renderSubject(n);
    return this.#tx(() => {
      const added: number[] = [];
      for (const r of rows) {
        const run = stmt.run(
          n.id,
          r.recipient,
          r.channel,
          r.target,
          n.incidentId,
          n.kind,
          n.host,
          n.test,
          summary,
          payload,
          status,
          now,
          nextAt,
          note,
        );
        if (Number(run.changes) === 1) added.push(Number(run.lastInsertRowid));
      }
      return added;
    });
  }

  /** Pending rows due at `now`, oldest first. */
  due(now: number, limit = 100): OutboxRow[] {
    return this.#rows(
      "WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?",
      now,
      limit,
    );
  }

  /** Earliest next_at of a pending row, or null when nothing is pending. */
  nextDueAt(): number | null {
    const r = this.#prepare("SELECT MIN(next_at) AS t FROM alert_outbox WHERE status = 'pending'")
      .get() as { t: number | null } | undefined;
    return r?.t ?? null;
  }

  /**
   * Takes a pending row for one attempt: counts the attempt, pushes next_at to `leaseUntil` and
   * notes this process as the lease's holder, so a crash mid-send retries after the lease instead
   * of never, and a restart retries at once ({@link resumeInterrupted}). Returns the attempt
   * number, or null when the row is no longer pending.
   */
  claim(id: number, leaseUntil: number, holder: LeaseHolder = selfHolder()): number | null {
    const r = this.#prepare(
      `UPDATE alert_outbox SET attempts = attempts + 1, next_at = ?, lease_pid = ?, lease_start = ?
       WHERE id = ? AND status = 'pending' RETURNING attempts`,
    ).get(leaseUntil, holder.pid, holder.start, id) as { attempts: number } | undefined;
    return r?.attempts ?? null;
  }

  markSent(id: number, now: number, receipt: string): void {
    this.#prepare(
      "UPDATE alert_outbox SET status = 'sent', sent_at = ?, receipt = ?, last_error = NULL, lease_pid = NULL, lease_start = NULL WHERE id = ?",
    ).run(now, short(receipt), id);
  }

  markRetry(id: number, nextAt: number, error: string): void {
    this.#prepare(
      "UPDATE alert_outbox SET next_at = ?, last_error = ?, lease_pid = NULL, lease_start = NULL WHERE id = ?",
    ).run(nextAt, short(error), id);
  }

  markFailed(id: number, error: string): void {
    this.#prepare(
      "UPDATE alert_outbox SET status = 'failed', last_error = ?, lease_pid = NULL, lease_start = NULL WHERE id = ?",
    ).run(short(error), id);
  }

  /**
   * Rows whose attempt was under way in a process that is gone (killed mid-send): due again now
   * instead of when their lease ends (the send timeout plus a minute). Whether the other side got
   * that attempt is unknown, so it may get the notification twice (same id): at least once, as
   * after any lease. A holder is gone when no process has its pid, or the one that has it started
   * at another time (an earlier run of a node that got its pid back). `startOf` says when a pid's
   * process started (default {@link procStart}; where there is no /proc, every holder counts as
   * alive and the leases run out as before). Rows from before lease_start: gone when the pid is.
   */
  resumeInterrupted(
    now: number,
    startOf: (pid: number) => number | null | undefined = procStart,
  ): number {
    const holders = this.db.prepare(
      `SELECT DISTINCT lease_pid AS pid, lease_start AS start FROM alert_outbox
       WHERE status = 'pending' AND lease_pid IS NOT NULL`,
    ).all() as { pid: number; start: number | null }[];
    let n = 0;
    for (const { pid, start } of holders) {
      const running = startOf(pid);
      if (running === undefined) continue;
      const gone = start === null ? running === null && pid !== Deno.pid : running !== start;
      if (!gone) continue;
      n += Number(
        this.db.prepare(
          `UPDATE alert_outbox SET next_at = ?, lease_pid = NULL, lease_start = NULL,
             last_error = 'interrupted: the process sending it stopped'
           WHERE status = 'pending' AND lease_pid = ? AND lease_start IS ?`,
        ).run(now, pid, start).changes,
      );
    }
    return n;
  }

  /** Rows with the given statuses, oldest first. */
  list(statuses: readonly OutboxStatus[] = ["pending", "failed"], limit = 1000): OutboxRow[] {
    const marks = statuses.map(() => "?").join(", ");
    return this.#rows(`WHERE status IN (${marks}) ORDER BY id LIMIT ?`, ...statuses, limit);
  }

  /** Pending and failed counts and the oldest pending row's creation time, for status and metrics. */
  depth(): { pending: number; failed: number; oldest: number | null } {
    const r = this.#prepare(
      `SELECT SUM(status = 'pending') AS pending, SUM(status = 'failed') AS failed,
              MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest
       FROM alert_outbox WHERE status IN ('pending', 'failed')`,
    ).get() as { pending: number | null; failed: number | null; oldest: number | null };
    return { pending: r.pending ?? 0, failed: r.failed ?? 0, oldest: r.oldest };
  }

  /** The newest `limit` rows of one host+test (every incident and kind), oldest first. */
  byCheck(host: string, test: string, limit = 200): OutboxRow[] {
    return this.#rows(
      "WHERE id IN (SELECT id FROM alert_outbox WHERE host = ? AND test = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
      host,
      test,
      limit,
    );
  }

  /** All rows of one notification, by recipient. */
  byNotification(notificationId: string): OutboxRow[] {
    return this.#rows("WHERE notification_id = ? ORDER BY recipient", notificationId);
  }

  /**
   * What this outbox did with the outage notices (down, reminders) of an incident: "queued" when
   * any went out, "muted" when all were muted, "none" when it never saw one. Rows an entry's
   * route kept from it ("not routed: ...") do not count.
   */
  downRecord(incidentId: string): "queued" | "muted" | "none" {
    const r = this.#prepare(
      `SELECT SUM(status != 'muted') AS queued, COUNT(*) AS total FROM alert_outbox
       WHERE incident_id = ? AND kind IN ('down', 'reminder')
         AND NOT (status = 'muted' AND last_error LIKE 'not routed%')`,
    ).get(incidentId) as { queued: number | null; total: number };
    if (r.total === 0) return "none";
    return (r.queued ?? 0) > 0 ? "queued" : "muted";
  }

  /** The row of an incident's notice of `kind` for one recipient (`command:pager`), or null. */
  noticeOf(incidentId: string, kind: DeliverableKind, recipient: string): OutboxRow | null {
    return this.#rows(
      "WHERE incident_id = ? AND kind = ? AND recipient = ? ORDER BY id DESC LIMIT 1",
      incidentId,
      kind,
      recipient,
    )[0] ?? null;
  }

  /** The recovery notice of an incident, when one was queued (for any target), else null. */
  recoveryOf(incidentId: string): Deliverable | null {
    const r = this.#prepare(
      "SELECT payload FROM alert_outbox WHERE incident_id = ? AND kind = 'recovered' LIMIT 1",
    ).get(incidentId) as { payload: string } | undefined;
    return r ? JSON.parse(r.payload) as Deliverable : null;
  }

  /** The rows of these incidents (every kind), by incident then id: the status view's notices. */
  byIncidents(incidentIds: readonly string[]): OutboxRow[] {
    if (incidentIds.length === 0) return [];
    const marks = incidentIds.map(() => "?").join(", ");
    return this.#rows(`WHERE incident_id IN (${marks}) ORDER BY incident_id, id`, ...incidentIds);
  }

  /** One row by id, or null. */
  get(id: number): OutboxRow | null {
    return this.#rows("WHERE id = ?", id)[0] ?? null;
  }

  /**
   * Queues one named row again (`dmonitor outbox retry ID`): a failed row goes back to pending
   * with a fresh attempt count; a pending row waiting for its next attempt becomes due now; a
   * `none:` row (nobody was configured) is queued for `targets`, the targets configured now,
   * and removed once they hold it. Returns how many rows are now due, or why nothing could be.
   */
  retryOne(
    id: number,
    targets: readonly Target[],
    now: number,
  ): { queued: number } | { error: string } {
    return this.#tx(() => {
      const row = this.get(id);
      if (row === null) return { error: `no message ${id} in the outbox` };
      if (row.status === "sent") {
        return { error: `message ${id} was already delivered (${row.recipient})` };
      }
      if (row.status === "muted") {
        return { error: `message ${id} was muted, not sent: ${row.lastError ?? "silenced"}` };
      }
      if (row.channel === "none") {
        if (targets.length === 0) {
          return {
            error: `message ${id} has no recipient and alert.d/ still has none: add an ` +
              "email address, <name>.webhook or <name>.command there first",
          };
        }
        const rows = targets.map((t) => ({
          recipient: targetKey(t),
          channel: t.channel,
          target: t.name,
        }));
        const added = this.#insertRows(
          JSON.parse(row.payload) as Deliverable,
          rows,
          now,
          now,
          "pending",
          null,
        ).length;
        this.#prepare("DELETE FROM alert_outbox WHERE id = ?").run(id);
        return { queued: added };
      }
      this.#prepare(
        `UPDATE alert_outbox SET status = 'pending', next_at = ?,
           attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END WHERE id = ?`,
      ).run(now, id);
      return { queued: 1 };
    });
  }

  /** Puts failed rows (all, or those ids) back to pending with a fresh attempt count. */
  retryFailed(ids: readonly number[] | "all", now: number): number {
    const where = ids === "all" ? "" : `AND id IN (${ids.map(() => "?").join(", ") || "NULL"})`;
    const params = ids === "all" ? [] : [...ids];
    return Number(
      this.#prepare(
        `UPDATE alert_outbox SET status = 'pending', attempts = 0, next_at = ?
         WHERE status = 'failed' AND channel != 'none' ${where}`,
      ).run(now, ...params).changes,
    );
  }

  /** Deletes sent and muted rows created before `before`; failed and pending rows stay. */
  prune(before: number): number {
    return Number(
      this.#prepare(
        "DELETE FROM alert_outbox WHERE status IN ('sent', 'muted') AND created_at < ?",
      ).run(before).changes,
    );
  }
}
