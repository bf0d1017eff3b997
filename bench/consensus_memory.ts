/**
 * Memory per open incident, and what stays once incidents end: one real `IncidentEngine` with two
 * peers that confirm every failure at once (canned answers, no network), N host/tests taken down,
 * notified, then recovered and closed. Heap measured after a full GC at each stage; the baseline
 * is the engine with N checks that never failed (which costs nothing: no state is kept).
 *
 *   deno run -A --v8-flags=--expose-gc bench/consensus_memory.ts [N]   (default 3000)
 */
import { IncidentEngine } from "../lib/quorum/engine.ts";
import type { PeerAnswer, VoteStatus } from "../lib/quorum/types.ts";
import type { CheckResult } from "../lib/runner/result.ts";
import { createLogger } from "../lib/log/mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const N = Number(Deno.args[0] ?? 3000);
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
  host: `10.1.${Math.floor(i / 250)}.${i % 250}`,
  test: "tcp",
  status,
  state: status,
  output: status === "OK" ? "connected in 0.2 ms" : "connection refused (port 7)",
  perfdata: "",
  exitCode: null,
  startedAt: now,
  durationMs: 1,
});
const heap = () => {
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
};
const all = async (status: "OK" | "FAIL") => {
  for (let i = 0; i < N; i++) await engine.round(result(i, status).host, "tcp", result(i, status));
};

await all("OK");
const base = heap();
await all("FAIL"); // down, claiming
now += 1500;
for (let i = 0; i < N; i++) await engine.wake(result(i, "FAIL").host, "tcp"); // commit + notify
const open = heap();
const openCount = engine.snapshot().incidents.filter((v) => v.phase === "down").length;
peerStatus = "OK";
for (let k = 0; k < 2; k++) {
  now += 10_000;
  await all("OK"); // recovering, then recovered
}
now += 1500;
for (let i = 0; i < N; i++) await engine.wake(result(i, "OK").host, "tcp");
const closed = heap();
const openLeft = engine.snapshot().incidents.filter((v) => v.incident !== null).length;
engine.close();

const kb = (b: number) => (b / 1024).toFixed(2);
console.log(`N = ${N} host/tests, 2 peers`);
console.log(
  `open incidents: ${openCount}; heap ${kb(open - base)} KiB above baseline: ` +
    `${kb((open - base) / N)} KiB per open incident`,
);
console.log(
  `after recovery: ${openLeft} open; heap ${kb(closed - base)} KiB above baseline: ` +
    `${kb((closed - base) / N)} KiB per host/test (its last closed incident, kept so late peers ` +
    `learn the recovery was sent); ratio to open: ${((closed - base) / (open - base)).toFixed(2)}`,
);
