/**
 * Time as a dependency, the one clock abstraction of the code base: loops, timers and the
 * consensus engine take a {@link Clock} so tests drive them without real timers.
 * @module
 */

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(id);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const id = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/** A manual clock for tests: time moves only through {@link FakeClock.advance}. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const entry = { at: this.#now + Math.max(0, ms), resolve };
      this.#sleepers.push(entry);
      signal?.addEventListener("abort", () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== entry);
        resolve();
      }, { once: true });
    });
  }

  /** Number of pending sleeps (lets a test wait until a loop is parked). */
  get sleepers(): number {
    return this.#sleepers.length;
  }

  /** Moves time forward in steps, waking sleepers in time order and letting them run. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    while (true) {
      await settle();
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (!next || next.at > end) break;
      this.#now = Math.max(this.#now, next.at);
      this.#sleepers.shift();
      next.resolve();
    }
    this.#now = end;
    await settle();
  }
}

/**
 * Resolves on a later turn of the event loop (a timer, not a microtask): long synchronous work
 * split by it lets requests (`/healthz`), timers and I/O in between. Real time, not a `Clock`.
 */
export function nextTurn(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Lets pending promise callbacks and I/O-free continuations run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}
export { type Deadline, deadline } from "./deadline.ts";
