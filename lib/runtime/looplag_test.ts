import assert from "node:assert/strict";
import { LoopLag, procCpuWaitNs } from "./looplag.ts";

Deno.test("LoopLag: lateness split into the wait for a CPU and the node's own work", () => {
  let now = 0, waitNs = 0;
  const stalls: number[] = [];
  const lag = new LoopLag({
    periodMs: 100,
    now: () => now,
    cpuWaitNs: () => waitNs,
    onStall: (t) => stalls.push(t.lagMs),
  });
  lag.reset();
  now = 100; // on time
  assert.deepEqual(lag.tick(), { lagMs: 0, cpuWaitMs: 0, ownMs: 0 });
  now = 300; // 100 ms late, 70 of them runnable but not running
  waitNs = 70e6;
  assert.deepEqual(lag.tick(), { lagMs: 100, cpuWaitMs: 70, ownMs: 30 });
  now = 700; // 300 ms late, all of it the node's own work
  const t = lag.tick();
  assert.deepEqual(t, { lagMs: 300, cpuWaitMs: 0, ownMs: 300 });
  assert.deepEqual(lag.late, [2, 1, 0]);
  assert.deepEqual(lag.lateOwn, [1, 1, 0]);
  assert.equal(lag.cpuWaitMs, 70);
  assert.deepEqual(lag.worst, t);
  assert.equal(lag.worstOwnMs, 300);
  assert.deepEqual(stalls, [300], "only the stall of 250 ms or more is reported");
  assert.equal(lag.ticks, 3);
});

Deno.test("LoopLag: without the kernel's wait counter all lateness counts as the node's own", () => {
  let now = 0;
  const lag = new LoopLag({ periodMs: 100, now: () => now, cpuWaitNs: () => null });
  lag.reset();
  now = 160;
  assert.deepEqual(lag.tick(), { lagMs: 60, cpuWaitMs: null, ownMs: 60 });
});

Deno.test("LoopLag: on Linux the real timer sees a blocked loop, and /proc gives the wait", async () => {
  assert.equal(typeof procCpuWaitNs(), "number");
  const lag = new LoopLag({ periodMs: 20 }).start();
  try {
    await new Promise((r) => setTimeout(r, 30));
    const until = performance.now() + 120;
    while (performance.now() < until) { /* hold the loop */ }
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(lag.worst.lagMs >= 60, `worst lag ${lag.worst.lagMs} ms`);
    assert.ok(lag.late[0]! >= 1);
  } finally {
    lag.stop();
  }
});
