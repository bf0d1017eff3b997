/**
 * Runs every job every `interval`, spread across the interval rather than all at once, never two
 * runs of the same job at a time. The scheduler only decides when; what a run does (and how many
 * run at once) belongs to the `run` callback.
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Logger } from "../log/mod.ts";

export interface Job {
  /** Unique and stable across reloads, e.g. `host\ttest`. */
  key: string;
  interval: number;
}

/** FNV-1a, so a job keeps its slot in the interval across restarts. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The job's first due time: a stable offset within one interval from `now`, so 1,000 checks with
 * a 60 s interval start about 17 a second instead of 1,000 at once.
 * @example firstDue("www\tssh", 60_000, 0) // somewhere in [0, 60000)
 */
export function firstDue(key: string, interval: number, now: number): number {
  return now + (hash(key) % interval);
}

/** The next due time after a run that was due at `due`, skipping slots already in the past. */
export function nextDue(due: number, interval: number, now: number): number {
  const next = due + interval;
  return next > now ? next : now + (interval - ((now - due) % interval));
}

interface Slot<J extends Job> {
  job: J;
  due: number;
  running: boolean;
}

export interface SchedulerOptions<J extends Job> {
  clock: Clock;
  run: (job: J) => Promise<void>;
  logger?: Logger;
}

/**
 * A binary min-heap of slots by due time. The loop takes only the slots that are due, so a wake-up
 * costs O(log N) per fired slot instead of a pass over every job: at 10,000 checks spread over a
 * 10 s interval the loop wakes about 1,000 times a second, and a pass over all of them at each
 * wake-up was 10 million slot visits a second.
 */
class SlotHeap<J extends Job> {
  #a: Slot<J>[] = [];

  get size(): number {
    return this.#a.length;
  }

  peek(): Slot<J> | undefined {
    return this.#a[0];
  }

  push(s: Slot<J>): void {
    const a = this.#a;
    a.push(s);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.due <= s.due) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = s;
  }

  pop(): Slot<J> | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    while (true) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && a[r]!.due < a[l]!.due ? r : l;
      if (a[c]!.due >= last.due) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

export class Scheduler<J extends Job> {
  #slots = new Map<string, Slot<J>>();
  /** The same slots by due time; rebuilt by `setJobs`. */
  #heap = new SlotHeap<J>();
  #wake = new AbortController();
  #inflight = new Set<Promise<void>>();
  /** Runs skipped because the previous run of the same job was still going. */
  overruns = 0;

  constructor(private readonly opts: SchedulerOptions<J>) {}

  /** Replaces the job set; jobs that stay keep their slot, new ones get a spread first slot. */
  setJobs(jobs: J[]): void {
    const now = this.opts.clock.now();
    const next = new Map<string, Slot<J>>();
    const heap = new SlotHeap<J>();
    for (const job of jobs) {
      const old = this.#slots.get(job.key);
      let slot: Slot<J>;
      if (old && old.job.interval === job.interval) {
        old.job = job;
        slot = old;
      } else {
        slot = {
          job,
          due: firstDue(job.key, job.interval, now),
          running: old?.running ?? false,
        };
      }
      next.set(job.key, slot);
      heap.push(slot);
    }
    this.#slots = next;
    this.#heap = heap;
    this.#wake.abort();
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The loop; returns when `signal` aborts, after in-flight runs finish. */
  async loop(signal: AbortSignal): Promise<void> {
    const { clock } = this.opts;
    let wake = this.#wake;
    let both = AbortSignal.any([signal, wake.signal]);
    while (!signal.aborted) {
      const now = clock.now();
      const heap = this.#heap;
      while (heap.size > 0 && heap.peek()!.due <= now) {
        const slot = heap.pop()!;
        this.#fire(slot, now);
        heap.push(slot);
      }
      // A new controller (and combined signal) only once `setJobs` has used the last one.
      if (wake.signal.aborted) {
        wake = this.#wake = new AbortController();
        both = AbortSignal.any([signal, wake.signal]);
      }
      const soonest = heap.peek()?.due ?? Infinity;
      const wait = soonest === Infinity ? 3_600_000 : soonest - clock.now();
      await clock.sleep(Math.max(0, wait), both);
    }
    await Promise.allSettled([...this.#inflight]);
  }

  #fire(slot: Slot<J>, now: number): void {
    slot.due = nextDue(slot.due, slot.job.interval, now);
    if (slot.running) {
      this.overruns++;
      this.opts.logger?.warn("check still running at its next slot; skipped", {
        job: slot.job.key.replace("\t", " "),
      });
      return;
    }
    slot.running = true;
    const p = this.opts.run(slot.job)
      .catch((e) => this.opts.logger?.error("run failed", { job: slot.job.key, error: String(e) }))
      .finally(() => {
        slot.running = false;
        this.#inflight.delete(p);
      });
    this.#inflight.add(p);
  }
}
