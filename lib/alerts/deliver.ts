/**
 * The delivery loop: takes due rows from the outbox, hands each to its channel, and records the
 * outcome (sent, retry with backoff, or failed). One target's failure never holds up another's.
 * @module
 */
import { METRICS } from "../metrics/mod.ts";
import type { DatabaseSync } from "node:sqlite";
import { createLogger, type Logger } from "../log/mod.ts";
import { backoff, MAX_ATTEMPTS } from "./backoff.ts";
import { FiringStore, type IncidentOpen, repostDue, sendToAlertmanager } from "./firing.ts";
import { Outbox, type OutboxRow } from "./outbox.ts";
import {
  type Channels,
  type Clock,
  type Deliverable,
  DeliveryError,
  type Message,
  realClock,
} from "./types.ts";
import { deadline } from "../clock/mod.ts";

export interface DeliverOptions {
  db: DatabaseSync;
  /** The channels, or a getter so a config reload takes effect on the next message. */
  channels: Channels | (() => Channels);
  clock?: Clock;
  /** Stops the loop; a send in flight is abandoned and retried later. */
  signal?: AbortSignal;
  log?: Logger;
  /** Attempts before a message is marked failed (default {@link MAX_ATTEMPTS}). */
  maxAttempts?: number;
  /** Longest one send may take (default 2 min); the row's lease is this plus a minute. */
  sendTimeoutMs?: number;
  /** Messages sent at once (default 4), so one slow target does not stall the rest. */
  concurrency?: number;
  /** Longest sleep between passes (default 30 s); enqueueing in this process wakes it at once. */
  pollMs?: number;
  /** How long sent and muted rows are kept for de-duplication (default 30 days). */
  keepMs?: number;
  /** Whether an incident is still open (the consensus state), so an Alertmanager alert whose
   * recovery another node sent stops being re-posted; default: unknown. */
  isOpen?: IncidentOpen;
}

/** What one attempt did, for logs and tests. */
export interface Attempt {
  row: OutboxRow;
  attempt: number;
  outcome: "sent" | "retry" | "failed" | "interrupted";
  detail: string;
}

const wakers = new WeakMap<DatabaseSync, Set<() => void>>();

/** Wakes every {@link runOutbox} of this process that works on `db` (called after enqueueing). */
export function wakeOutbox(db: DatabaseSync): void {
  for (const wake of wakers.get(db) ?? []) wake();
}

/** Settles with `p`, or rejects when `signal` aborts first: a channel that ignores its signal
 * (nodemailer has its own timeouts) must not hang the caller. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

async function attemptOne(
  outbox: Outbox,
  firing: FiringStore,
  row: OutboxRow,
  opts: DeliverOptions,
): Promise<Attempt | null> {
  const clock = opts.clock ?? realClock;
  const sendTimeout = opts.sendTimeoutMs ?? 120_000;
  const attempt = outbox.claim(row.id, clock.now() + sendTimeout + 60_000);
  if (attempt === null) return null;
  const channels = typeof opts.channels === "function" ? opts.channels() : opts.channels;
  const stop = opts.signal ?? new AbortController().signal;
  try {
    if (row.channel === "none") throw new DeliveryError("no alert target configured", true);
    const channel = channels[row.channel];
    if (!channel) throw new DeliveryError(`no ${row.channel} channel is configured`, true);
    const msg: Message = {
      notification: JSON.parse(row.payload) as Deliverable,
      target: { channel: row.channel, name: row.target },
      createdAt: row.createdAt,
    };
    // Not AbortSignal.timeout: its timer would hold the signal for the whole send timeout after a
    // delivery that took milliseconds (lib/clock/deadline.ts).
    using limit = deadline(sendTimeout, stop);
    const signal = limit.signal;
    const sent = row.channel === "alertmanager"
      ? sendToAlertmanager(channel, msg, signal, {
        outbox,
        firing,
        isOpen: opts.isOpen,
        now: () => clock.now(),
      })
      : channel.send(msg, signal);
    const receipt = await abortable(sent, signal);
    outbox.markSent(row.id, clock.now(), receipt.detail);
    return { row, attempt, outcome: "sent", detail: receipt.detail };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    if (stop.aborted) {
      outbox.markRetry(row.id, clock.now(), `interrupted by shutdown: ${detail}`);
      return { row, attempt, outcome: "interrupted", detail };
    }
    const permanent = e instanceof DeliveryError && e.permanent;
    if (permanent || attempt >= (opts.maxAttempts ?? MAX_ATTEMPTS)) {
      const why = permanent ? detail : `gave up after ${attempt} attempts: ${detail}`;
      outbox.markFailed(row.id, why);
      return { row, attempt, outcome: "failed", detail: why };
    }
    outbox.markRetry(row.id, clock.now() + backoff(attempt), detail);
    return { row, attempt, outcome: "retry", detail };
  }
}

function logAttempt(log: Logger, a: Attempt): void {
  const fields = {
    recipient: a.row.recipient,
    kind: a.row.kind,
    host: a.row.host,
    test: a.row.test,
    notification: a.row.notificationId,
    attempt: a.attempt,
  };
  if (a.outcome !== "interrupted") METRICS.deliveries.inc({ result: a.outcome });
  if (a.outcome === "sent") log.info("alert delivered", { ...fields, reply: a.detail });
  else if (a.outcome === "failed") {
    log.error("alert delivery failed for good", { ...fields, error: a.detail });
  } else if (a.outcome === "interrupted") log.info("alert delivery interrupted", fields);
  else {
    const retryIn = backoff(a.attempt) / 1000;
    log.warn("alert delivery failed, will retry", {
      ...fields,
      retry_in_s: retryIn,
      error: a.detail,
    });
  }
}

/** Re-posts the Alertmanager alerts that are due (see firing.ts). */
async function repostPass(
  opts: DeliverOptions,
  outbox: Outbox,
  firing: FiringStore,
): Promise<void> {
  const clock = opts.clock ?? realClock;
  const channels = typeof opts.channels === "function" ? opts.channels() : opts.channels;
  await repostDue(channels.alertmanager, opts.signal ?? new AbortController().signal, {
    outbox,
    firing,
    isOpen: opts.isOpen,
    now: () => clock.now(),
    log: (opts.log ?? createLogger()).child("alerts"),
    timeoutMs: opts.sendTimeoutMs ?? 120_000,
    concurrency: opts.concurrency ?? 4,
  });
}

/**
 * One pass: attempts every row due now (except those in `inFlight`) and returns what happened.
 * @example
 * const attempts = await deliverDue({ db, channels, clock });
 */
export async function deliverDue(
  opts: DeliverOptions & {
    inFlight?: Set<number>;
    outbox?: Outbox;
    firing?: FiringStore;
    /** Also re-post the firing Alertmanager alerts that are due (default true). */
    reposts?: boolean;
  },
): Promise<Attempt[]> {
  const outbox = opts.outbox ?? new Outbox(opts.db);
  const firing = opts.firing ?? new FiringStore(opts.db);
  const clock = opts.clock ?? realClock;
  const log = (opts.log ?? createLogger()).child("alerts");
  const inFlight = opts.inFlight ?? new Set<number>();
  const queue = outbox.due(clock.now()).filter((r) => !inFlight.has(r.id));
  const results: Attempt[] = [];
  const worker = async () => {
    for (let row = queue.shift(); row; row = queue.shift()) {
      if (opts.signal?.aborted) return;
      inFlight.add(row.id);
      try {
        const a = await attemptOne(outbox, firing, row, opts);
        if (a) {
          results.push(a);
          logAttempt(log, a);
        }
      } finally {
        inFlight.delete(row.id);
      }
    }
  };
  const reposts = opts.reposts === false ? Promise.resolve() : repostPass(opts, outbox, firing);
  await Promise.all([
    ...Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker),
    reposts,
  ]);
  return results;
}

/**
 * Runs until `signal` aborts: delivers what is due, then sleeps until the next row is due (at most
 * `pollMs`), waking early when this process enqueues. Also prunes old sent rows.
 * @example
 * const stop = new AbortController();
 * const done = runOutbox({ db, channels: () => channels, signal: stop.signal });
 * // ... on shutdown:
 * stop.abort(); await done;
 */
export async function runOutbox(opts: DeliverOptions): Promise<void> {
  const clock = opts.clock ?? realClock;
  const signal = opts.signal ?? new AbortController().signal;
  const outbox = new Outbox(opts.db);
  const firing = new FiringStore(opts.db);
  const inFlight = new Set<number>();
  let woken = new AbortController();
  const wake = () => woken.abort();
  const set = wakers.get(opts.db) ?? new Set();
  wakers.set(opts.db, set.add(wake));
  const log = (opts.log ?? createLogger()).child("alerts");
  const poll = opts.pollMs ?? 30_000;
  let lastPrune = -Infinity;
  // Re-posts run beside the passes, so a slow Alertmanager never delays a mail or a webhook.
  let reposting: Promise<void> | null = null;
  try {
    // Attempts a killed predecessor had under way are due now, not when their leases end.
    const resumed = outbox.resumeInterrupted(clock.now());
    if (resumed > 0) {
      log.info("resuming deliveries interrupted when the node stopped", { notifications: resumed });
    }
  } catch (e) {
    log.error("cannot resume interrupted deliveries; they retry when their lease ends", {
      error: (e as Error).message,
    });
  }
  try {
    while (!signal.aborted) {
      woken = new AbortController();
      let next: number | null;
      try {
        if (!reposting && (firing.nextDueAt() ?? Infinity) <= clock.now()) {
          reposting = repostPass(opts, outbox, firing)
            .catch((e) => log.error("alertmanager re-post pass failed", { error: e.message }))
            .finally(() => {
              reposting = null;
              wake();
            });
        }
        await deliverDue({ ...opts, inFlight, outbox, firing, reposts: false });
        if (clock.now() - lastPrune > 3_600_000) {
          outbox.prune(clock.now() - (opts.keepMs ?? 30 * 86_400_000));
          lastPrune = clock.now();
        }
        // While re-posts run, their rows are due but taken: the pass's end wakes the loop.
        const dues = [outbox.nextDueAt(), reposting ? null : firing.nextDueAt()]
          .filter((t) => t !== null);
        next = dues.length ? Math.min(...dues) : null;
      } catch (e) {
        // A busy or broken database must not end delivery for good: try again after a poll.
        log.error("alert outbox pass failed", { error: (e as Error).message });
        next = null;
      }
      const wait = next === null ? poll : Math.min(poll, Math.max(0, next - clock.now()));
      if (wait > 0 && !woken.signal.aborted) {
        await clock.sleep(wait, AbortSignal.any([signal, woken.signal]));
      }
    }
  } finally {
    set.delete(wake);
    await reposting;
  }
}
