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
  let counted = { late: LAG_THRESHOLDS.map(() => 0), own: LAG_THRESHOLDS.map(() => 0), wait: 0 };
  return new LoopLag({
    onStall: (t) =>
      log.warn("event loop held up", {
        ms: Math.round(t.lagMs),
        own_ms: Math.round(t.ownMs),
        cpu_wait_ms: t.cpuWaitMs === null ? "unknown" : Math.round(t.cpuWaitMs),
      }),
    // The counters follow the monitor's own (what it counted since the last tick).
    onTick: (_t, lag) => {
      METRICS.loopTicks.inc();
      LAG_THRESHOLDS.forEach((s, i) => {
        const over = String(s);
        METRICS.loopLate.inc({ over, cause: "total" }, lag.late[i]! - counted.late[i]!);
        METRICS.loopLate.inc({ over, cause: "own" }, lag.lateOwn[i]! - counted.own[i]!);
      });
      METRICS.loopCpuWait.inc({}, (lag.cpuWaitMs - counted.wait) / 1000);
      METRICS.loopWorst.set({ part: "total" }, lag.worst.lagMs / 1000);
      METRICS.loopWorst.set({ part: "own" }, lag.worstOwnMs / 1000);
      counted = { late: [...lag.late], own: [...lag.lateOwn], wait: lag.cpuWaitMs };
    },
  }).start();
}
