/**
 * A coalescing request queue towards one peer: items (host/test pairs to confirm or view,
 * announcements) pushed while the peer's requests are in flight wait and leave together in the
 * next request, so a mass failure costs a bounded number of requests per peer, not one per check.
 * A peer that answers "busy, retry after" pauses the queue (its items wait, within their own
 * deadlines) instead of being hammered. Every item resolves by its own deadline, whatever the
 * peer does, so a silent peer never holds up anything beyond it.
 *
 * Transport-neutral: the node sends over the signed peer protocol (lib/peers/rpc.ts), the
 * simulation over its virtual network.
 * @module
 */
import type { Clock } from "../clock/mod.ts";

/** What one request towards the peer produced. */
export type SendOutcome<R> =
  /** One result per item, in order. */
  | { ok: true; results: R[] }
  /** No valid answer. With `retryAfterMs`, the peer said it is busy: the items are sent again. */
  | { ok: false; error: string; retryAfterMs?: number };

export interface BatchQueueOptions<I, R> {
  /** Sends one request with `items`; `deadlineMs` is the time left for the longest-waiting item. */
  send(items: I[], deadlineMs: number): Promise<SendOutcome<R>>;
  /** The result of an item that got no answer (deadline passed, request failed). */
  fail(item: I, error: string): R;
  /** Most requests in flight towards the peer at once; more items wait and coalesce. */
  maxInFlight: number;
  /** Most items in one request. */
  maxItems: number;
  /** Largest request: `sizeOf` summed over the items (e.g. their JSON length). */
  maxBytes?: number;
  sizeOf?(item: I): number;
  /** How long the first item of an idle queue waits for others (0: the next microtask). */
  lingerMs: number;
  clock: Clock;
  /** Settles a reply's items this many at a time, awaiting `between` in between (the node: a
   * turn of the event loop), so the rounds a 1,000-item reply resumes do not run as one block.
   * Default: all at once. */
  settleChunk?: { items: number; between: () => Promise<void> };
}

interface Pending<I, R> {
  item: I;
  deadlineAt: number;
  done: boolean;
  resolve(r: R): void;
  cancel: AbortController;
}

/** Counters, for metrics and benches. */
export interface BatchStats {
  requests: number;
  items: number;
  busy: number;
  failed: number;
}

const SETTLED = "settled";

/** One peer's queue for one kind of request. */
export class BatchQueue<I, R> {
  readonly #o: BatchQueueOptions<I, R>;
  #queue: Pending<I, R>[] = [];
  #inFlight = 0;
  #pausedUntil = 0;
  #scheduled = false;
  #closed = false;
  readonly stats: BatchStats = { requests: 0, items: 0, busy: 0, failed: 0 };

  constructor(o: BatchQueueOptions<I, R>) {
    if (o.maxInFlight < 1 || o.maxItems < 1) {
      throw new RangeError("Cannot create a batch queue: maxInFlight and maxItems must be >= 1");
    }
    this.#o = o;
  }

  /** Items waiting (not yet in a request). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Queues `item`; resolves with its result, or `fail(item, …)` once `deadlineMs` has passed. */
  push(item: I, deadlineMs: number): Promise<R> {
    if (this.#closed) return Promise.resolve(this.#o.fail(item, "shutting down"));
    return new Promise<R>((resolve) => {
      const p: Pending<I, R> = {
        item,
        deadlineAt: this.#o.clock.now() + deadlineMs,
        done: false,
        resolve,
        cancel: new AbortController(),
      };
      this.#queue.push(p);
      this.#o.clock.sleep(deadlineMs, p.cancel.signal).then(() => {
        if (!p.cancel.signal.aborted) {
          this.#settle(p, this.#o.fail(item, `no answer within ${deadlineMs} ms`));
        }
      });
      this.#schedule(this.#queue.length >= this.#o.maxItems ? 0 : this.#o.lingerMs);
    });
  }

  /** Resolves every waiting item as failed; later pushes fail at once. */
  close(): void {
    this.#closed = true;
    for (const p of this.#queue.splice(0)) this.#settle(p, this.#o.fail(p.item, "shutting down"));
  }

  #settle(p: Pending<I, R>, r: R): void {
    if (p.done) return;
    p.done = true;
    // A reason of our own: without one, abort() builds a DOMException (and its stack) per item.
    p.cancel.abort(SETTLED);
    p.resolve(r);
  }

  #schedule(ms: number): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const go = () => {
      this.#scheduled = false;
      this.#flush();
    };
    if (ms <= 0) queueMicrotask(go);
    else this.#o.clock.sleep(ms).then(go);
  }

  #flush(): void {
    const now = this.#o.clock.now();
    if (now < this.#pausedUntil) {
      this.#schedule(this.#pausedUntil - now);
      return;
    }
    while (this.#inFlight < this.#o.maxInFlight && !this.#closed) {
      this.#queue = this.#queue.filter((p) => !p.done);
      if (this.#queue.length === 0) return;
      const chunk = this.#take();
      const deadlineMs = Math.max(1, Math.max(...chunk.map((p) => p.deadlineAt)) - now);
      this.#inFlight++;
      this.stats.requests++;
      this.stats.items += chunk.length;
      this.#o.send(chunk.map((p) => p.item), deadlineMs)
        .catch((e): SendOutcome<R> => ({ ok: false, error: String(e) }))
        .then((out) => this.#done(chunk, out));
    }
  }

  #take(): Pending<I, R>[] {
    const { maxItems, maxBytes, sizeOf } = this.#o;
    let bytes = 0, n = 0;
    for (const p of this.#queue) {
      const size = sizeOf ? sizeOf(p.item) : 0;
      if (n >= maxItems || (maxBytes !== undefined && n > 0 && bytes + size > maxBytes)) break;
      bytes += size;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #done(chunk: Pending<I, R>[], out: SendOutcome<R>): Promise<void> {
    if (out.ok) await this.#settleAll(chunk, out.results);
    this.#inFlight--;
    if (!out.ok && out.retryAfterMs !== undefined && !this.#closed) {
      // Busy: the peer is alive and asks us to come back; the items keep their own deadlines.
      this.stats.busy++;
      this.#pausedUntil = Math.max(this.#pausedUntil, this.#o.clock.now() + out.retryAfterMs);
      this.#queue.unshift(...chunk.filter((p) => !p.done));
    } else if (!out.ok) {
      this.stats.failed++;
      for (const p of chunk) this.#settle(p, this.#o.fail(p.item, out.error));
    }
    if (this.#queue.length > 0) this.#schedule(0);
  }

  /** Settles a reply's items in order, `settleChunk.items` per turn when set. */
  async #settleAll(chunk: Pending<I, R>[], results: R[]): Promise<void> {
    const step = this.#o.settleChunk;
    for (let i = 0; i < chunk.length; i++) {
      if (step && i > 0 && i % step.items === 0) await step.between();
      const r = results[i];
      const p = chunk[i]!;
      this.#settle(p, r === undefined ? this.#o.fail(p.item, "answer missing from batch") : r);
    }
  }
}

/** The per-peer queue policy the node uses (lib/peers/rpc.ts), shared with the simulation. */
export const PEER_QUEUES = {
  /** Confirms make the peer run checks: a few requests at once. */
  confirm: { maxInFlight: 4 },
  view: { maxInFlight: 2 },
  incident: { maxInFlight: 2 },
  maxItems: 1000,
  /** Request bodies stay below the peer endpoint's 16 KiB cap. */
  maxBytes: 12_000,
} as const;

/**
 * How long an idle queue gathers items: 1/40 of the check interval, 10-250 ms. Results trickle in
 * (checks are spread over their interval), so without it every failing check of a mass failure
 * would leave alone; with it a peer gets at most a few requests a second of each kind, whatever
 * the number of checks, for a delay that is small next to the interval.
 */
export function lingerFor(intervalMs: number): number {
  return Math.min(250, Math.max(10, Math.round(intervalMs / 40)));
}
