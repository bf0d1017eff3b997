/**
 * Keeps a flood of identical events (a scanner hammering the peer port) from flooding the log:
 * at most `perWindow` lines per key per window; the next line says how many were suppressed.
 * @module
 */

export class LogLimiter {
  readonly #clock: () => number;
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #keys = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(o: { clock: () => number; perWindow: number; windowMs: number }) {
    this.#clock = o.clock;
    this.#perWindow = o.perWindow;
    this.#windowMs = o.windowMs;
  }

  /** Calls `emit(suppressedSinceLastLine)` unless this key is over its budget. */
  run(key: string, emit: (suppressed: number) => void): void {
    const now = this.#clock();
    let k = this.#keys.get(key);
    if (k === undefined || now - k.start >= this.#windowMs) {
      const suppressed = k?.suppressed ?? 0;
      k = { start: now, count: 0, suppressed };
      this.#keys.set(key, k);
    }
    if (k.count >= this.#perWindow) {
      k.suppressed++;
      return;
    }
    k.count++;
    const s = k.suppressed;
    k.suppressed = 0;
    emit(s);
  }
}
