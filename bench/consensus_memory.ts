/**
 * Memory per open incident, and what stays once incidents end: one real `IncidentEngine` with two
 * peers that confirm every failure at once (canned answers, no network), N host/tests taken down,
 * notified, then recovered and closed, then quiet for the engine's `forgetAfterMs` (the node's
 * value at a 10 s interval and 2 s timeout: 50 s) and swept. Heap measured after a full GC at
 * each stage; the baseline is the engine with N checks that never failed (which costs nothing:
 * no state is kept).
 *
 *   deno run -A --v8-flags=--expose-gc bench/consensus_memory.ts [N ...]   (default 100 1000 10000)
 */
import { IncidentEngine } from "../lib/quorum/engine.ts";
import type { PeerAnswer, VoteStatus } from "../lib/quorum/types.ts";
import type { CheckResult } from "../lib/runner/result.ts";
import { createLogger } from "../lib/log/mod.ts";

const gc = (globalThis as { gc?: (o?: Record<string, string>) => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
/** forgetAfterFor(defaultTiming({ timeout: 2000, interval: 10000 }), ...): 30 s + 2 x 10 s. */
const FORGET_AFTER_MS = 50_000;

/** Live heap: two full GCs on a turn of their own (objects a WeakRef touched in the current job
 * are kept until it ends, whatever the GC; a heap snapshot shows they are garbage). */
const heap = async () => {
  await new Promise((r) => setTimeout(r, 0));
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
};

async function measure(N: number) {
  let now = 1_000_000;
  let peerStatus: VoteStatus = "FAIL";
  const still = (_ms: number, s?: AbortSignal) =>
    new Promise<void>((r) => s?.addEventListener("abort", () => r()));
  const engine = new IncidentEngine({
    self: "a",
    peers: ["b:2929", "c:2929"],
    rule: { kind: "count", count: 2 },
    timing: { settleMs: 1000, handoverMs: 6000, recoverHoldMs: 0, remindMs: 0 },
    clock: { now: () => now, sleep: still },
    log: createLogger({ min: "error" }),
    notifier: { notify: () => Promise.resolve() },
    forgetAfterMs: FORGET_AFTER_MS,
    ask: (_h, _t) =>
      Promise.resolve(["b", "c"].map((n): PeerAnswer => ({
        peer: `${n}:2929`,
        node: n,
        vote: { node: n, status: peerStatus, output: "connection refused (port 7)", at: now },
        incident: null,
        latencyMs: 1,
      }))),
  });
  const result = (i: number, status: "OK" | "FAIL"): CheckResult => ({
    host: `10.${Math.floor(i / 62500)}.${Math.floor(i / 250) % 250}.${i % 250}`,
    test: "tcp",
    status,
    state: status,
    output: status === "OK" ? "connected in 0.2 ms" : "connection refused (port 7)",
    perfdata: "",
    exitCode: null,
    startedAt: now,
    durationMs: 1,
  });
  const all = async (status: "OK" | "FAIL") => {
    for (let i = 0; i < N; i++) {
      await engine.round(result(i, status).host, "tcp", result(i, status));
    }
  };

  await all("OK");
  const base = await heap();
  await all("FAIL"); // down, claiming
  now += 1500;
  for (let i = 0; i < N; i++) await engine.wake(result(i, "FAIL").host, "tcp"); // commit + notify
  const open = await heap();
  const openCount = engine.snapshot().incidents.filter((v) => v.phase === "down").length;
  peerStatus = "OK";
  for (let k = 0; k < 2; k++) {
    now += 10_000;
    await all("OK"); // recovering, then recovered
  }
  now += 1500;
  for (let i = 0; i < N; i++) await engine.wake(result(i, "OK").host, "tcp");
  await engine.idle();
  const closed = await heap();
  const openLeft = engine.snapshot().incidents.filter((v) => v.incident !== null).length;
  now += FORGET_AFTER_MS;
  const forgotten = engine.sweep(FORGET_AFTER_MS);
  const after = await heap();
  engine.close();
  return { N, base, open, openCount, closed, openLeft, forgotten, after };
}

const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [100, 1000, 10_000];
const kb = (b: number) => (b / 1024).toFixed(2);
console.log(
  "N       open  KiB/open  closed KiB/host-test (ratio)  forgotten  after forget KiB/host-test (ratio to open)",
);
for (const n of sizes) {
  const r = await measure(n);
  const per = (x: number) => (x - r.base) / r.N;
  console.log(
    `${String(r.N).padEnd(7)} ${String(r.openCount).padEnd(5)} ${kb(per(r.open)).padEnd(9)} ` +
      `${kb(per(r.closed))} (${(per(r.closed) / per(r.open)).toFixed(2)})`.padEnd(29) +
      ` ${String(r.forgotten).padEnd(10)} ${kb(per(r.after))} (${
        (per(r.after) / per(r.open)).toFixed(2)
      })` + (r.openLeft > 0 ? `  ${r.openLeft} still open!` : ""),
  );
}
