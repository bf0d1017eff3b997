/**
 * Keeps a flood of identical events (a scanner hammering the peer port) from flooding the log:
 * at most `perWindow` lines per key per window; the next line says how many were suppressed, and
 * when a `summary` is given, a line at the end of a window that suppressed any says so even when
 * no further event comes. Memory is bounded: at most `maxKeys` keys are tracked.
 * @module
 */

/** Timers as the limiter uses them (injected by tests; the default is unref'd setTimeout). */
export interface LimiterTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: LimiterTimers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    Deno.unrefTimer(t);
    return t;
  },
  clear: (h) => clearTimeout(h as number),
};

interface KeyState {
  start: number;
  count: number;
  suppressed: number;
  timer: unknown;
  summary: ((suppressed: number) => void) | null;
}

export class LogLimiter {
  readonly #clock: () => number;
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #timers: LimiterTimers;
  readonly #maxKeys: number;
  readonly #keys = new Map<string, KeyState>();

  constructor(
    o: {
      clock: () => number;
      perWindow: number;
      windowMs: number;
      timers?: LimiterTimers;
      maxKeys?: number;
    },
  ) {
    this.#clock = o.clock;
    this.#perWindow = o.perWindow;
    this.#windowMs = o.windowMs;
    this.#timers = o.timers ?? realTimers;
    this.#maxKeys = o.maxKeys ?? 64;
  }

  /**
   * Calls `emit(suppressedSinceLastLine)` unless this key is over its budget. When it is and
   * `summary` is given, `summary(n)` is called once at the end of the window with the number of
   * events suppressed (unless a later `emit` already reported them).
   */
  run(
    key: string,
    emit: (suppressed: number) => void,
    summary?: (suppressed: number) => void,
  ): void {
    const now = this.#clock();
    if (!this.#keys.has(key) && this.#keys.size >= this.#maxKeys) key = "(other)";
    let k = this.#keys.get(key);
    if (k === undefined) {
      k = { start: now, count: 0, suppressed: 0, timer: null, summary: null };
      this.#keys.set(key, k);
    } else if (now - k.start >= this.#windowMs) {
      k.start = now;
      k.count = 0;
    }
    if (k.count >= this.#perWindow) {
      k.suppressed++;
      if (summary && k.timer === null) {
        k.summary = summary;
        const state = k;
        state.timer = this.#timers.set(() => {
          state.timer = null;
          const n = state.suppressed;
          state.suppressed = 0;
          if (n > 0) state.summary?.(n);
        }, Math.max(0, k.start + this.#windowMs - now));
      }
      return;
    }
    k.count++;
    const s = k.suppressed;
    k.suppressed = 0;
    emit(s);
  }
}
