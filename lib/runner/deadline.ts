/**
 * Many timeouts of the same length on one timer. The runner gives every plugin run a timeout and
 * almost always cancels it a few milliseconds later; a setTimeout and clearTimeout per run cost
 * more than the rest of the run's bookkeeping (Deno's timers, measured with perf at 1,500 runs a
 * second). Runs of the same timeout expire in the order they started, so each length keeps a
 * queue in start order and one timer for the oldest run still waiting.
 * @module
 */

/** The clock and timer (real ones by default; tests pass fakes). */
export interface TimerDeps {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(id: unknown): void;
}

const realTimers: TimerDeps = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

interface Entry {
  at: number;
  fire: (() => void) | null;
}

/** The runs waiting with one timeout length, oldest first. */
class Queue {
  readonly #ms: number;
  readonly #deps: TimerDeps;
  readonly #owner: Map<number, Queue>;
  #entries: Entry[] = [];
  #head = 0;
  #live = 0;
  #timer: unknown = null;
  /** True while due entries fire: an entry added meanwhile must not arm the timer. */
  #expiring = false;

  constructor(ms: number, deps: TimerDeps, owner: Map<number, Queue>) {
    this.#ms = ms;
    this.#deps = deps;
    this.#owner = owner;
  }

  add(fire: () => void): () => void {
    const e: Entry = { at: this.#deps.now() + this.#ms, fire };
    this.#entries.push(e);
    this.#live++;
    if (this.#timer === null && !this.#expiring) this.#arm(e.at);
    return () => {
      if (e.fire === null) return;
      e.fire = null;
      this.#live--;
      this.#skip();
    };
  }

  #arm(at: number): void {
    this.#timer = this.#deps.setTimer(() => this.#expire(), Math.max(0, at - this.#deps.now()));
  }

  /** Drops cancelled entries at the head; with none left, the timer and the queue go. */
  #skip(): void {
    while (this.#head < this.#entries.length && this.#entries[this.#head]!.fire === null) {
      this.#head++;
    }
    if (this.#live === 0) {
      if (this.#timer !== null) this.#deps.clearTimer(this.#timer);
      this.#timer = null;
      this.#owner.delete(this.#ms);
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  #expire(): void {
    this.#timer = null;
    const now = this.#deps.now();
    this.#expiring = true;
    try {
      // Fire what is due (the timer may have been armed for an entry cancelled since).
      while (this.#head < this.#entries.length) {
        const e = this.#entries[this.#head]!;
        if (e.fire !== null && e.at > now) break;
        this.#head++;
        if (e.fire !== null) {
          const fire = e.fire;
          e.fire = null;
          this.#live--;
          fire();
        }
      }
    } finally {
      this.#expiring = false;
    }
    this.#skip();
    if (this.#live > 0) this.#arm(this.#entries[this.#head]!.at);
  }
}

/** One queue per timeout length. */
export class Deadlines {
  readonly #deps: TimerDeps;
  readonly #queues = new Map<number, Queue>();

  constructor(deps: TimerDeps = realTimers) {
    this.#deps = deps;
  }

  /** Calls `fire` after `ms` unless the returned function is called first. */
  after(ms: number, fire: () => void): () => void {
    let q = this.#queues.get(ms);
    if (!q) this.#queues.set(ms, q = new Queue(ms, this.#deps, this.#queues));
    return q.add(fire);
  }
}
