/**
 * The alerts this node keeps firing in Alertmanager. Alertmanager resolves an alert by itself once
 * its `endsAt` passes, so an open outage must be posted again while it lasts. The first post of an
 * outage (its down notice) goes through the outbox like any message; once Alertmanager accepted it,
 * a row in `alert_firing` (SQLite, so a restart keeps re-posting) makes the delivery loop post it
 * again every {@link REPOST_MS}, until the recovery is posted (`endsAt` = recovery time) or the
 * node learns the incident is over another way (another node sent the recovery). Posts of one
 * outage to one target are serialized, and each post looks up whether the outage has ended, so a
 * late down or re-post never revives an alert whose recovery was already posted.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Logger } from "../log/mod.ts";
import { REPOST_MS } from "./alertmanager.ts";
import type { Outbox } from "./outbox.ts";
import {
  type Channel,
  type Deliverable,
  DeliveryError,
  type Message,
  type SendReceipt,
} from "./types.ts";
import { deadline } from "../clock/mod.ts";

/** Whether an incident is still open, as the consensus part knows it; null when it does not. */
export type IncidentOpen = (incidentId: string) => { open: true } | {
  open: false;
  endedAt: number | null;
} | null;

export interface FiringRow {
  recipient: string;
  target: string;
  incidentId: string;
  /** The down (or latest reminder) notification, JSON. */
  payload: string;
  nextAt: number;
  /** Re-posts failed in a row (logged on the first only). */
  failures: number;
  lastError: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_firing (
  recipient TEXT NOT NULL,
  target TEXT NOT NULL,
  incident_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  next_at INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  PRIMARY KEY (recipient, incident_id)
) WITHOUT ROWID;
`;

const COLUMNS = `recipient, target, incident_id AS incidentId, payload, next_at AS nextAt, failures,
  last_error AS lastError`;

/** The `alert_firing` table. */
export class FiringStore {
  constructor(readonly db: DatabaseSync) {
    db.exec(SCHEMA);
  }

  /** Starts (or refreshes with newer votes) re-posting `n` to `recipient`. */
  open(recipient: string, target: string, n: Deliverable, nextAt: number): void {
    this.db.prepare(
      `INSERT INTO alert_firing (recipient, target, incident_id, payload, next_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (recipient, incident_id) DO UPDATE SET payload = excluded.payload,
         next_at = excluded.next_at, failures = 0, last_error = NULL`,
    ).run(recipient, target, n.incidentId, JSON.stringify(n), nextAt);
  }

  close(recipient: string, incidentId: string): void {
    this.db.prepare("DELETE FROM alert_firing WHERE recipient = ? AND incident_id = ?")
      .run(recipient, incidentId);
  }

  reschedule(recipient: string, incidentId: string, nextAt: number, error: string | null): void {
    this.db.prepare(
      `UPDATE alert_firing SET next_at = ?, failures = CASE WHEN ? IS NULL THEN 0 ELSE failures + 1 END,
         last_error = ? WHERE recipient = ? AND incident_id = ?`,
    ).run(nextAt, error, error, recipient, incidentId);
  }

  due(now: number, limit = 100): FiringRow[] {
    return this.db.prepare(
      `SELECT ${COLUMNS} FROM alert_firing WHERE next_at <= ? ORDER BY next_at LIMIT ?`,
    ).all(now, limit) as unknown as FiringRow[];
  }

  all(): FiringRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM alert_firing ORDER BY incident_id, recipient`)
      .all() as unknown as FiringRow[];
  }

  nextDueAt(): number | null {
    const r = this.db.prepare("SELECT MIN(next_at) AS t FROM alert_firing").get() as
      | { t: number | null }
      | undefined;
    return r?.t ?? null;
  }
}

const locks = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call with the same key has settled. */
async function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = locks.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.catch(() => {});
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

/** The recovery of `n` as an ended alert: the recovery notice when queued, else built from what
 * the consensus part knows; null while the outage is open (or nothing is known). */
function ending(
  n: Deliverable,
  outbox: Outbox,
  isOpen: IncidentOpen | undefined,
  now: number,
): Deliverable | null {
  if (n.kind === "recovered") return n;
  const queued = outbox.recoveryOf(n.incidentId);
  if (queued) return queued;
  const known = isOpen?.(n.incidentId) ?? null;
  if (known === null || known.open) return null;
  return { ...n, kind: "recovered", endedAt: known.endedAt ?? now };
}

export interface FiringDeps {
  outbox: Outbox;
  firing: FiringStore;
  isOpen?: IncidentOpen;
  now: () => number;
}

/**
 * Delivers one outbox message to an Alertmanager: posts it (or its recovery, when that is already
 * known), then starts or stops re-posting. Throws what the channel throws.
 */
export function sendToAlertmanager(
  channel: Channel,
  msg: Message,
  signal: AbortSignal,
  deps: FiringDeps,
): Promise<SendReceipt> {
  const n = msg.notification;
  if (n.kind === "test") return channel.send(msg, signal);
  const recipient = `alertmanager:${msg.target.name}`;
  return serialized(`${recipient}\n${n.incidentId}`, async () => {
    const ended = ending(n, deps.outbox, deps.isOpen, deps.now());
    const notification = ended ?? n;
    const receipt = await channel.send({ ...msg, notification }, signal);
    if (ended) deps.firing.close(recipient, n.incidentId);
    else deps.firing.open(recipient, msg.target.name, n, deps.now() + REPOST_MS);
    return receipt;
  });
}

/** Re-posts every firing alert that is due (or posts its end); returns how many were posted. */
export async function repostDue(
  channel: Channel | undefined,
  signal: AbortSignal,
  deps: FiringDeps & { log: Logger; timeoutMs: number; concurrency?: number },
): Promise<number> {
  let posted = 0;
  const queue = deps.firing.due(deps.now());
  const one = async (row: FiringRow) => {
    const n = JSON.parse(row.payload) as Deliverable;
    const fields = { recipient: row.recipient, host: n.host, test: n.test, incident: n.incidentId };
    await serialized(`${row.recipient}\n${row.incidentId}`, async () => {
      const ended = ending(n, deps.outbox, deps.isOpen, deps.now());
      try {
        if (!channel) throw new DeliveryError("no alertmanager channel is configured", true);
        const msg: Message = {
          notification: ended ?? n,
          target: { channel: "alertmanager", name: row.target },
          createdAt: deps.now(),
        };
        using limit = deadline(deps.timeoutMs, signal);
        await channel.send(msg, limit.signal);
        posted++;
        if (ended) {
          deps.firing.close(row.recipient, row.incidentId);
          deps.log.info("alertmanager alert ended", fields);
        } else {
          if (row.failures > 0) deps.log.info("alertmanager re-post accepted again", fields);
          deps.firing.reschedule(row.recipient, row.incidentId, deps.now() + REPOST_MS, null);
        }
      } catch (e) {
        const error = (e as Error).message;
        if (e instanceof DeliveryError && e.permanent) {
          deps.firing.close(row.recipient, row.incidentId);
          deps.log.warn("alertmanager re-posts stopped", { ...fields, error });
          return;
        }
        // Every minute, like the re-posts themselves; logged once per streak of failures.
        if (row.failures === 0) deps.log.warn("alertmanager re-post failed", { ...fields, error });
        deps.firing.reschedule(row.recipient, row.incidentId, deps.now() + REPOST_MS, error);
      }
    });
  };
  const worker = async () => {
    for (let row = queue.shift(); row && !signal.aborted; row = queue.shift()) await one(row);
  };
  await Promise.all(Array.from({ length: Math.max(1, deps.concurrency ?? 4) }, worker));
  return posted;
}
