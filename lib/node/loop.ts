/**
 * The node's event-loop watch: {@link LoopLag} ticking every 100 ms, its counts in `/metrics`
 * (`dmonitor_event_loop_*`), and a warning for each stall of a quarter second or more that says
 * how much of it was this node's own work and how much waiting for a CPU.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { METRICS } from "../metrics/mod.ts";
import { LAG_THRESHOLDS, LoopLag } from "../runtime/mod.ts";

export function watchLoop(log: Logger): LoopLag {
  // Every series present from the start, at 0 until a tick is late.
  for (const s of LAG_THRESHOLDS) {
    for (const cause of ["total", "own"]) METRICS.loopLate.inc({ over: String(s), cause }, 0);
  }
  METRICS.loopCpuWait.inc({}, 0);
  return new LoopLag({
    onStall: (t) =>
      log.warn("event loop held up", {
        ms: Math.round(t.lagMs),
        own_ms: Math.round(t.ownMs),
        cpu_wait_ms: t.cpuWaitMs === null ? "unknown" : Math.round(t.cpuWaitMs),
      }),
    onTick: (t, lag) => {
      METRICS.loopTicks.inc();
      for (const s of LAG_THRESHOLDS) {
        const over = String(s);
        if (t.lagMs > s * 1000) METRICS.loopLate.inc({ over, cause: "total" });
        if (t.ownMs > s * 1000) METRICS.loopLate.inc({ over, cause: "own" });
      }
      if (t.cpuWaitMs) METRICS.loopCpuWait.inc({}, t.cpuWaitMs / 1000);
      METRICS.loopWorst.set({ part: "total" }, lag.worst.lagMs / 1000);
      METRICS.loopWorst.set({ part: "own" }, lag.worstOwnMs / 1000);
    },
  }).start();
}
