/**
 * Three consensus engines talking over the real peer protocol on 127.0.0.1 (one listener each,
 * port 0). Protocol time (settle, hand-over) runs on a shared fake clock, so nothing sleeps; the
 * signatures use the real clock.
 */
import assert from "node:assert/strict";
import type { Peer } from "../config/types.ts";
import { memoryLogger } from "../log/mod.ts";
import type { CheckResult } from "../runner/result.ts";
import type { Clock } from "../clock/mod.ts";
import { IncidentEngine } from "../quorum/engine.ts";
import { RecordingNotifier } from "../quorum/fixtures_testing.ts";
import { createPeerApp } from "./app.ts";
import { createPeerRpc } from "./rpc.ts";
import { type PeerServer, startPeerServer } from "./server.ts";
import { KEY } from "./testing.ts";

const timing = { settleMs: 3000, handoverMs: 20_000, recoverHoldMs: 0, remindMs: 0 };

function cluster(names: string[]) {
  let now = 1_000_000;
  const seen: Record<string, "OK" | "FAIL"> = {};
  const result = (node: string): CheckResult => ({
    host: "www",
    test: "http",
    status: seen[node] ?? "OK",
    state: seen[node] ?? "OK",
    output: "",
    perfdata: "",
    exitCode: null,
    startedAt: now,
    durationMs: 1,
  });
  const timers: { at: number; fn: () => void; dead: boolean }[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise((resolve) => {
        const t = { at: now + ms, fn: () => resolve(), dead: false };
        timers.push(t);
        signal?.addEventListener("abort", () => {
          t.dead = true;
          resolve();
        }, { once: true });
      }),
  };
  const engines = new Map<string, IncidentEngine>();
  const notifiers = new Map<string, RecordingNotifier>();
  const servers = new Map<string, PeerServer>();
  for (const name of names) {
    const app = createPeerApp({
      nodeName: name,
      key: KEY,
      peers: () => names.filter((n) => n !== name),
      log: memoryLogger(),
      confirm: (h, t) => Promise.resolve(engines.get(name)!.answer(h, t, result(name))),
      view: (h, t) => engines.get(name)!.answer(h, t, result(name)),
      hear: async (h, t, _from, v) => {
        await engines.get(name)!.hear(h, t, v);
        return true;
      },
      state: () => engines.get(name)!.snapshot(),
    });
    servers.set(name, startPeerServer({ hostname: "127.0.0.1", port: 0, app }));
  }
  for (const name of names) {
    const peers: Peer[] = names.filter((n) => n !== name).map((n) => {
      const port = servers.get(n)!.addr.port;
      return { host: "127.0.0.1", port, raw: `${n}:${port}`, line: 1, name: n };
    });
    const log = memoryLogger();
    const rpc = createPeerRpc(peers, {
      key: KEY,
      nodeName: name,
      confirmDeadlineMs: 1000,
      viewDeadlineMs: 500,
      log,
    });
    const notifier = new RecordingNotifier();
    notifiers.set(name, notifier);
    engines.set(
      name,
      new IncidentEngine({
        self: name,
        peers: peers.map((p) => p.raw),
        rule: { kind: "count", count: 2 },
        timing,
        ...rpc,
        notifier,
        clock,
        log,
      }),
    );
  }
  return {
    seen,
    engines,
    /** Every notification sent anywhere, as `kind by node`. */
    sent: () =>
      [...notifiers.values()].flatMap((n) => n.sent.map((x) => `${x.kind} by ${x.notifier}`)),
    check: async (name: string) => {
      await engines.get(name)!.round("www", "http", result(name));
    },
    /** Moves the clock and fires the timers that are due, waiting for their rounds. */
    advance: async (ms: number) => {
      now += ms;
      for (const t of timers.splice(0)) {
        if (t.dead) continue;
        if (t.at <= now) t.fn();
        else timers.push(t);
      }
      // The wake-ups run once the sleeps' promises settle.
      for (let i = 0; i < 5; i++) await Promise.resolve();
      for (const e of engines.values()) await e.idle();
    },
    kill: async (name: string) => {
      engines.get(name)!.close();
      await servers.get(name)!.shutdown();
    },
    async [Symbol.asyncDispose]() {
      for (const [name, e] of engines) {
        e.close();
        await servers.get(name)!.shutdown();
      }
    },
  };
}

Deno.test("cluster over loopback: 3 nodes detect at different moments, exactly one down and one recovery", async () => {
  await using c = cluster(["n1", "n2", "n3"]);
  c.seen.n1 = c.seen.n2 = c.seen.n3 = "FAIL";
  await c.check("n2"); // n2 first: quorum, claims
  await c.advance(1000);
  await c.check("n3"); // sees n2 claiming below it: yields
  await c.advance(1000);
  await c.check("n1"); // lowest, claims; n2 will yield to it
  for (let i = 0; i < 10; i++) await c.advance(1000);
  assert.deepEqual(c.sent(), ["down by n1"]);
  for (const n of ["n1", "n2", "n3"]) await c.check(n); // later failing rounds: nothing new
  assert.deepEqual(c.sent(), ["down by n1"]);
  c.seen.n1 = c.seen.n2 = c.seen.n3 = "OK";
  for (let round = 0; round < 2; round++) {
    for (const n of ["n3", "n2", "n1"]) await c.check(n);
    await c.advance(10_000);
  }
  for (let i = 0; i < 5; i++) await c.advance(1000);
  assert.deepEqual(c.sent(), ["down by n1", "recovered by n1"]);
  assert.equal(c.engines.get("n3")!.view("www", "http")?.phase, "ok");
});

Deno.test("cluster over loopback: the chosen notifier dies before notifying, exactly one other notifies", async () => {
  await using c = cluster(["n1", "n2", "n3"]);
  c.seen.n1 = c.seen.n2 = c.seen.n3 = "FAIL";
  await c.check("n1"); // n1 claims
  await c.check("n2"); // yields to n1
  await c.check("n3");
  await c.kill("n1"); // killed while settling
  for (let i = 0; i < 10; i++) {
    await c.advance(5000);
    await c.check("n2");
    await c.check("n3");
  }
  assert.deepEqual(c.sent(), ["down by n2"]);
});

Deno.test("cluster over loopback: one node with a broken view never notifies", async () => {
  await using c = cluster(["n1", "n2", "n3"]);
  c.seen.n1 = "FAIL";
  for (let i = 0; i < 5; i++) {
    await c.check("n1");
    await c.check("n2");
    await c.check("n3");
    await c.advance(10_000);
  }
  assert.deepEqual(c.sent(), []);
  assert.equal(c.engines.get("n1")!.view("www", "http")?.phase, "local-only");
});
