/**
 * The check scheduler's own cost per scheduled run, at 100, 1,000 and 10,000 jobs spread over one
 * interval: the loop driven by a clock that jumps straight to each wake-up, with runs that
 * return at once, so what is timed is the loop (finding due slots, firing, sleeping). Prints CPU
 * microseconds per run and the ratio against N = 100; flat means the cost per check does not
 * grow with the number of checks.
 *
 *   deno run -A bench/scheduler.ts [N ...]
 */
import process from "node:process";
import type { Clock } from "../lib/clock/mod.ts";
import { Scheduler } from "../lib/schedule/mod.ts";

/** Virtual time: `sleep` moves it to the wake-up at once (a microtask later), and aborts the
 * loop once `end` is reached. */
class JumpClock implements Clock {
  t = 0;
  constructor(readonly end: number, readonly stop: AbortController) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number, _signal?: AbortSignal): Promise<void> {
    this.t += Math.max(0, ms);
    if (this.t >= this.end) this.stop.abort();
    return Promise.resolve();
  }
}

async function measure(n: number, intervals: number) {
  const ctl = new AbortController();
  const clock = new JumpClock(intervals * 10_000, ctl);
  let runs = 0;
  const s = new Scheduler<{ key: string; interval: number }>({
    clock,
    run: () => (runs++, Promise.resolve()),
  });
  s.setJobs(Array.from({ length: n }, (_, i) => ({ key: `host${i}\ttcp`, interval: 10_000 })));
  const cpu0 = process.cpuUsage();
  await s.loop(ctl.signal);
  const cpu = process.cpuUsage(cpu0);
  return { n, runs, usPerRun: (cpu.user + cpu.system) / runs };
}

const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [100, 1000, 10_000];
console.log(`cpus ${navigator.hardwareConcurrency}, load ${Deno.loadavg().join(" ")}`);
let base: number | undefined;
for (const n of sizes) {
  // Enough intervals that each size schedules at least ~20,000 runs.
  const r = await measure(n, Math.max(2, Math.ceil(50_000 / n)));
  base ??= r.usPerRun;
  console.log(
    `N=${String(n).padEnd(6)} runs ${String(r.runs).padEnd(7)} ${
      r.usPerRun.toFixed(2)
    } us per run ` +
      `(${(r.usPerRun / base).toFixed(2)}x N=${sizes[0]})`,
  );
}
