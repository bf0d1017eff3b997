/**
 * How late the event loop is, and why. A timer due every `periodMs` measures how late it fired:
 * every request (`/healthz` included), check and notice waits at least that long. Linux also says
 * how long the thread was runnable but not running (`/proc/thread-self/schedstat`, the second
 * field, nanoseconds): that part of a stall is the machine's (other processes had the CPUs), the
 * rest is this node's own work in one turn of the loop. Both are counted per threshold for
 * `/metrics`, and a stall of a quarter second or more is logged with its split.
 *
 * The counting ({@link LoopLag.tick}) is pure: time and the wait counter are injected.
 * @module
 */

/** Lateness thresholds counted, in seconds (the metric's `over` label). */
export const LAG_THRESHOLDS = [0.05, 0.25, 1] as const;

export interface LagTick {
  /** How late the timer fired (ms). */
  lagMs: number;
  /** Of the whole period, the time the thread waited for a CPU (ms), or null where unknown. */
  cpuWaitMs: number | null;
  /** `lagMs` less that wait: the node's own work (ms). */
  ownMs: number;
}

export interface LoopLagOptions {
  periodMs?: number;
  now?: () => number;
  /** The thread's cumulative run-queue wait in ns, or null where the kernel does not say. */
  cpuWaitNs?: () => number | null;
  /** Told of every tick, after it was counted. */
  onTick?: (t: LagTick, lag: LoopLag) => void;
  /** Told of each tick at or over `reportMs` late (default 250 ms). */
  onStall?: (t: LagTick) => void;
  reportMs?: number;
}

/** Reads the calling thread's run-queue wait from /proc (null where there is none). */
export function procCpuWaitNs(): number | null {
  try {
    const f = Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ");
    const ns = Number(f[1]);
    return Number.isFinite(ns) ? ns : null;
  } catch {
    return null;
  }
}

export class LoopLag {
  readonly periodMs: number;
  readonly #now: () => number;
  readonly #wait: () => number | null;
  readonly #o: LoopLagOptions;
  #expected = 0;
  #lastWait: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  ticks = 0;
  /** Ticks later than each of {@link LAG_THRESHOLDS}, all told and of the node's own work. */
  readonly late = LAG_THRESHOLDS.map(() => 0);
  readonly lateOwn = LAG_THRESHOLDS.map(() => 0);
  /** Milliseconds the thread waited for a CPU, over every tick. */
  cpuWaitMs = 0;
  /** The worst tick since start. */
  worst: LagTick = { lagMs: 0, cpuWaitMs: null, ownMs: 0 };
  /** The worst of the node's own work since start. */
  worstOwnMs = 0;

  constructor(o: LoopLagOptions = {}) {
    this.#o = o;
    this.periodMs = o.periodMs ?? 100;
    this.#now = o.now ?? (() => performance.now());
    this.#wait = o.cpuWaitNs ?? procCpuWaitNs;
  }

  /** Starts the timer (unref'd: it never keeps the process alive). */
  start(): this {
    this.reset();
    const loop = () => {
      this.tick();
      this.#timer = setTimeout(loop, this.periodMs);
      Deno.unrefTimer(this.#timer);
    };
    this.#timer = setTimeout(loop, this.periodMs);
    Deno.unrefTimer(this.#timer);
    return this;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  /** Sets the next expected tick one period from now. */
  reset(): void {
    this.#expected = this.#now() + this.periodMs;
    this.#lastWait = this.#wait();
  }

  /** One timer firing: counts how late it is and why, and expects the next a period later. */
  tick(): LagTick {
    const now = this.#now();
    const lagMs = Math.max(0, now - this.#expected);
    const w = this.#wait();
    const cpuWaitMs = w === null || this.#lastWait === null
      ? null
      : Math.max(0, (w - this.#lastWait) / 1e6);
    this.#lastWait = w;
    const ownMs = Math.max(0, lagMs - (cpuWaitMs ?? 0));
    const t: LagTick = { lagMs, cpuWaitMs, ownMs };
    this.ticks++;
    this.cpuWaitMs += cpuWaitMs ?? 0;
    LAG_THRESHOLDS.forEach((s, i) => {
      if (lagMs > s * 1000) this.late[i]!++;
      if (ownMs > s * 1000) this.lateOwn[i]!++;
    });
    if (lagMs > this.worst.lagMs) this.worst = t;
    this.worstOwnMs = Math.max(this.worstOwnMs, ownMs);
    if (lagMs >= (this.#o.reportMs ?? 250)) this.#o.onStall?.(t);
    this.#o.onTick?.(t, this);
    this.#expected = now + this.periodMs;
    return t;
  }
}
