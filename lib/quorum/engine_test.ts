import assert from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import type { CheckResult } from "../runner/result.ts";
import type { Clock } from "../clock/mod.ts";
import { type AskFn, type EngineOptions, IncidentEngine, sameJson } from "./engine.ts";
import { RecordingNotifier } from "./fixtures_testing.ts";
import type { IncidentState, IncidentView, PeerAnswer, VoteStatus } from "./types.ts";

const timing = { settleMs: 3000, handoverMs: 20000, recoverHoldMs: 0, remindMs: 0 };

function result(status: "OK" | "FAIL" | "TIMEOUT", at: number): CheckResult {
  return {
    host: "www",
    test: "http",
    status,
    state: status,
    output: status === "OK" ? "200 OK" : "connection refused",
    perfdata: "",
    exitCode: null,
    startedAt: at,
    durationMs: 1,
  };
}

/** A clock whose timers never fire (their sleeps end only when cancelled). */
const stillClock: Clock = {
  now: () => Date.now(),
  sleep: (_ms, signal) => new Promise((r) => signal?.addEventListener("abort", () => r())),
};

/** A controllable world: a clock, timers that fire only when told, canned peer answers. */
function world(peers: string[] = ["a:2929", "c:2929"], extra: Partial<EngineOptions> = {}) {
  let now = 1000;
  const timers: { at: number; fn: () => void }[] = [];
  const clock: Clock = {
    now: () => now,
    sleep(ms, signal) {
      return new Promise((resolve) => {
        const t = { at: now + ms, fn: () => resolve() };
        timers.push(t);
        signal?.addEventListener("abort", () => {
          const i = timers.indexOf(t);
          if (i >= 0) timers.splice(i, 1);
          resolve();
        }, { once: true });
      });
    },
  };
  const answers = new Map<string, { status: VoteStatus; incident?: IncidentView | null }>();
  const calls: string[] = [];
  const asked: { mode: string; since?: number; deadlineMs?: number }[] = [];
  const ask: AskFn = (_host, _test, mode, since, deadlineMs) => {
    calls.push(`ask ${mode}`);
    asked.push({ mode, since, deadlineMs });
    return Promise.resolve(peers.map((p): PeerAnswer => {
      const name = p.split(":")[0]!;
      const a = answers.get(name) ?? { status: "OK" };
      const reachable = a.status !== "UNREACHABLE";
      return {
        peer: p,
        node: reachable ? name : null,
        vote: { node: reachable ? name : p, status: a.status, output: "", at: now },
        incident: a.incident ?? null,
        latencyMs: 1,
        ...(reachable ? {} : { error: "connection refused" }),
      };
    }));
  };
  const notifier = new RecordingNotifier();
  const origNotify = notifier.notify.bind(notifier);
  notifier.notify = (n) => {
    calls.push(`notify ${n.kind}`);
    return origNotify(n);
  };
  const saved: IncidentState[] = [];
  const log = memoryLogger();
  const engine = new IncidentEngine({
    self: "b",
    peers,
    rule: { kind: "count", count: 2 },
    timing,
    ask,
    notifier,
    clock,
    log,
    save: (s) => {
      saved.push(structuredClone(s));
    },
    announce: (_h, _t, view) => {
      calls.push(
        `announce ${view.incident?.down?.deliveredAt === null ? "committed" : "delivered"}`,
      );
      return Promise.resolve();
    },
    ...extra,
  });
  return {
    engine,
    answers,
    calls,
    asked,
    notifier,
    saved,
    log,
    timers,
    at: (t: number) => (now = t),
    /** Advances the clock to the next timer and fires it; resolves when its work is done. */
    async fire() {
      timers.sort((x, y) => x.at - y.at);
      const t = timers.shift();
      assert.ok(t, "a timer is armed");
      now = Math.max(now, t.at);
      t.fn();
      // The wake-up runs after the sleep's promise settles.
      for (let i = 0; i < 5; i++) await Promise.resolve();
      await engine.idle();
    },
  };
}

Deno.test("engine: a passing check with nothing going on asks nobody and stores nothing", async () => {
  const w = world();
  assert.deepEqual(await w.engine.round("www", "http", result("OK", 1000)), []);
  assert.deepEqual(w.calls, []);
  assert.deepEqual(w.saved, []);
  assert.equal(w.engine.view("www", "http"), null);
});

Deno.test("engine: confirmed outage -> claim, timer, final round, persist, announce, notify once", async () => {
  const w = world();
  w.answers.set("a", { status: "FAIL" });
  await w.engine.round("www", "http", result("FAIL", 1000));
  assert.equal(w.engine.view("www", "http")?.claim, "down");
  assert.equal(w.timers.length, 1);
  assert.equal(w.timers[0]!.at, 4000);
  await w.fire();
  assert.deepEqual(w.calls, [
    "ask confirm",
    "ask view",
    "announce committed",
    "notify down",
    "announce delivered",
  ]);
  assert.deepEqual(w.notifier.summary(), ["down www/http by b"]);
  const n = w.notifier.sent[0]!;
  assert.equal(n.id, "www/http/1000/b/down");
  assert.equal(n.nodesTotal, 3);
  assert.deepEqual(n.votes.map((v) => `${v.node}:${v.status}`), ["b:FAIL", "a:FAIL", "c:OK"]);
  // The commit was persisted before the notifier saw it.
  const committed = w.saved.find((s) =>
    s.incident?.down !== null && s.incident?.down.deliveredAt === null
  );
  assert.ok(committed, "committed state saved before delivery");
  assert.equal(w.engine.view("www", "http")?.incident?.down?.deliveredAt, 4000);
  // Later failing checks do not notify again.
  w.at(61000);
  await w.engine.round("www", "http", result("FAIL", 61000));
  assert.equal(w.notifier.sent.length, 1);
});

Deno.test("engine: a rejected notification is retried from a timer", async () => {
  const w = world([]);
  w.notifier.failNext = 1;
  await w.engine.round("www", "http", result("FAIL", 1000));
  assert.equal(w.notifier.sent.length, 0);
  assert.ok(w.log.lines.some((l) => l.includes("notifier failed, will retry")));
  await w.fire();
  assert.deepEqual(w.notifier.summary(), ["down www/http by b"]);
});

Deno.test("engine: single-node mode sends down, then recovery after two passing rounds", async () => {
  const w = world([]);
  await w.engine.round("www", "http", result("FAIL", 1000));
  w.at(61000);
  await w.engine.round("www", "http", result("OK", 61000));
  w.at(121000);
  await w.engine.round("www", "http", result("OK", 121000));
  assert.deepEqual(w.notifier.summary(), ["down www/http by b", "recovered www/http by b"]);
  assert.equal(w.notifier.sent[1]!.endedAt, 61000);
  assert.equal(w.engine.view("www", "http")?.phase, "ok");
});

Deno.test("engine: rounds of one host+test never overlap", async () => {
  let inFlight = 0, maxInFlight = 0;
  const slow = new IncidentEngine({
    self: "b",
    peers: ["a:2929"],
    rule: { kind: "count", count: 2 },
    timing,
    notifier: new RecordingNotifier(),
    log: memoryLogger(),
    clock: stillClock,
    ask: async (_h, _t) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return [];
    },
  });
  await Promise.all([1, 2, 3].map((i) => slow.round("www", "http", result("FAIL", i))));
  assert.equal(maxInFlight, 1);
});

Deno.test("engine: a peer reporting this node's own name cannot vote", async () => {
  const engine = new IncidentEngine({
    self: "b",
    peers: ["twin:2929"],
    rule: { kind: "count", count: 2 },
    timing,
    notifier: new RecordingNotifier(),
    log: memoryLogger(),
    clock: stillClock,
    ask: () =>
      Promise.resolve([{
        peer: "twin:2929",
        node: "b",
        vote: { node: "b", status: "FAIL", output: "", at: 1 },
        incident: null,
        latencyMs: 1,
      }]),
  });
  await engine.round("www", "http", result("FAIL", 1000));
  assert.equal(engine.view("www", "http")?.phase, "unconfirmed");
  assert.equal(engine.snapshot().peers[0]?.lastError?.includes("own name"), true);
});

Deno.test("engine: restore drops claims and re-examines open incidents at once", async () => {
  const w = world();
  w.answers.set("a", { status: "FAIL" });
  await w.engine.round("www", "http", result("FAIL", 1000)); // claiming
  const persisted = w.engine.states();
  assert.equal(persisted[0]?.claim, "down");
  const w2 = world();
  w2.answers.set("a", { status: "FAIL" });
  w2.at(2000);
  w2.engine.restore(persisted);
  assert.equal(w2.engine.view("www", "http")?.claim, null);
  assert.equal(w2.timers.length, 1);
  assert.equal(w2.timers[0]!.at, 2000);
  await w2.fire(); // view round: claims again, must settle again before committing
  assert.equal(w2.engine.view("www", "http")?.claim, "down");
  assert.equal(w2.notifier.sent.length, 0);
});

Deno.test("engine: an announced incident is remembered and adopted when this node confirms", async () => {
  const w = world();
  const incident = {
    id: "www/http/500/a",
    startedAt: 500,
    endedAt: null,
    down: { by: "a", committedAt: 900, deliveredAt: 950, passed: [] },
    recovered: null,
  };
  await w.engine.hear("www", "http", {
    host: "www",
    test: "http",
    phase: "down",
    claim: null,
    incident,
    closed: null,
  });
  // a dies right after announcing; c and b confirm the outage without it.
  w.answers.set("a", { status: "UNREACHABLE" });
  w.answers.set("c", { status: "FAIL" });
  await w.engine.round("www", "http", result("FAIL", 1000));
  const v = w.engine.view("www", "http");
  assert.equal(v?.incident?.id, "www/http/500/a");
  assert.equal(v?.claim, null);
  assert.equal(w.notifier.sent.length, 0);
});

Deno.test("engine: answer() maps a local result to the confirm reply, UNKNOWN when degraded", () => {
  let degraded = false;
  const engine = new IncidentEngine({
    self: "b",
    peers: ["a:2929"],
    rule: { kind: "count", count: 2 },
    timing,
    notifier: new RecordingNotifier(),
    ask: () => Promise.resolve([]),
    log: memoryLogger(),
    degraded: () => degraded,
  });
  assert.equal(engine.answer("www", "http", result("FAIL", 5)).status, "FAIL");
  degraded = true;
  assert.equal(engine.answer("www", "http", result("FAIL", 5)).status, "UNKNOWN");
  assert.equal(engine.answer("www", "http", null).status, "UNKNOWN");
  engine.close();
});

Deno.test("engine: a failing ask or announce costs a round or a push, never the notice", async () => {
  const log = memoryLogger();
  const notifier = new RecordingNotifier();
  let fail = true;
  let now = 1000;
  const engine = new IncidentEngine({
    self: "b",
    peers: ["a:2929"],
    rule: { kind: "count", count: 1 },
    timing: { ...timing, settleMs: 1000 },
    notifier,
    log,
    clock: { ...stillClock, now: () => now },
    ask: () => fail ? Promise.reject(new Error("boom")) : Promise.resolve([]),
    announce: () => Promise.reject(new Error("network down")),
  });
  await engine.round("www", "http", result("FAIL", 1000));
  assert.ok(log.lines.some((l) => l.includes("asking peers failed") && l.includes("boom")));
  fail = false;
  now = 2000;
  await engine.round("www", "http", result("FAIL", 2000)); // claims
  now = 3500;
  await engine.wake("www", "http"); // settled: commits
  assert.deepEqual(notifier.summary(), ["down www/http by b"]);
  assert.ok(log.lines.some((l) => l.includes("announcing to peers failed")));
});

Deno.test("engine: an announcement that arrives during the final round is taken in before deciding", async () => {
  let now = 1000;
  let gate: (() => void) | null = null;
  const notifier = new RecordingNotifier();
  const answers = (): PeerAnswer[] => [{
    peer: "a:2929",
    node: "a",
    vote: { node: "a", status: "FAIL", output: "", at: now },
    incident: null,
    latencyMs: 1,
  }];
  const engine = new IncidentEngine({
    self: "b",
    peers: ["a:2929"],
    rule: { kind: "count", count: 2 },
    timing,
    notifier,
    log: memoryLogger(),
    clock: { ...stillClock, now: () => now },
    ask: (_h, _t, mode) =>
      mode === "confirm"
        ? Promise.resolve(answers())
        : new Promise((resolve) => (gate = () => resolve(answers()))),
  });
  await engine.round("www", "http", result("FAIL", 1000)); // claims
  now = 4000;
  const final = engine.wake("www", "http");
  await new Promise((r) => setTimeout(r, 0));
  const theirs = {
    id: "www/http/900/a",
    startedAt: 900,
    endedAt: null,
    down: { by: "a", committedAt: 3990, deliveredAt: null, passed: [] },
    recovered: null,
  };
  const heard = engine.hear("www", "http", {
    host: "www",
    test: "http",
    phase: "down",
    claim: null,
    incident: theirs,
    closed: null,
  });
  gate!();
  await final;
  await heard;
  assert.deepEqual(notifier.sent, []);
  assert.equal(engine.view("www", "http")?.incident?.id, "www/http/900/a");
});

Deno.test("engine: a claim's own settle time and round deadline; recovery's second round from a timer, peers checking anew", async () => {
  const w = world(["a:2929", "c:2929"], {
    settle: () => 600,
    timing: { ...timing, recoverHoldMs: 1000 },
  });
  w.answers.set("a", { status: "FAIL" });
  await w.engine.round("www", "http", result("FAIL", 1000));
  assert.equal(w.engine.view("www", "http")?.settleMs, 600, "the claim says its settle time");
  assert.equal(w.timers[0]!.at, 1600);
  await w.fire();
  assert.deepEqual(w.asked, [
    { mode: "confirm", since: 1000, deadlineMs: undefined },
    { mode: "view", since: undefined, deadlineMs: 350 }, // the claim's settle time - 250 ms
  ]);
  assert.deepEqual(w.notifier.summary(), ["down www/http by b"]);
  // The service is back: one passing check, then a timer, not the next scheduled check.
  w.answers.set("a", { status: "OK" });
  w.at(61000);
  await w.engine.round("www", "http", result("OK", 61000));
  assert.equal(w.engine.view("www", "http")?.phase, "recovering");
  assert.deepEqual(w.timers.map((t) => t.at), [62000], "the hold (1 s) outlasts the settle time");
  await w.fire();
  assert.deepEqual(w.asked.slice(2), [
    { mode: "confirm", since: 61000, deadlineMs: undefined },
    { mode: "confirm", since: 62000, deadlineMs: undefined }, // peers check again, now
  ]);
  assert.deepEqual(w.notifier.summary(), ["down www/http by b", "recovered www/http by b"]);
  assert.equal(w.engine.view("www", "http")?.phase, "ok");
});

Deno.test("engine: a closed incident is forgotten once quiet for forgetAfterMs, an open or undelivered one never", async () => {
  const w = world([]);
  await w.engine.round("www", "http", result("FAIL", 1000));
  await w.engine.round("db", "http", result("FAIL", 1000));
  w.at(61000);
  await w.engine.round("www", "http", result("OK", 61000));
  w.at(121000);
  w.notifier.failNext = 0;
  await w.engine.round("www", "http", result("OK", 121000));
  assert.equal(w.engine.view("www", "http")?.closed?.recovered?.deliveredAt, 121000);
  // Quiet, but not for long enough; the open incident of db stays whatever the time.
  await w.engine.idle();
  w.at(150000);
  assert.equal(w.engine.sweep(60000), 0);
  assert.equal(w.engine.size, 2);
  w.at(181000);
  assert.equal(w.engine.sweep(60000), 1);
  assert.equal(w.engine.size, 1, "what the engine holds, for the memory release");
  assert.equal(w.engine.view("www", "http"), null, "forgotten: nothing kept");
  assert.equal(w.engine.view("db", "http")?.phase, "down");
  w.at(10_000_000);
  assert.equal(w.engine.sweep(60000), 0);
  // An undelivered recovery is kept until it is delivered.
  w.notifier.failNext = 5;
  await w.engine.round("db", "http", result("OK", 10_000_000));
  w.at(10_060_000);
  await w.engine.round("db", "http", result("OK", 10_060_000));
  await w.engine.idle();
  assert.equal(w.engine.view("db", "http")?.phase, "ok");
  w.at(20_000_000);
  assert.equal(w.engine.sweep(60000), 0);
  // A forgotten host+test starts afresh when it fails again.
  await w.engine.round("www", "http", result("FAIL", 20_000_000));
  assert.equal(w.engine.view("www", "http")?.phase, "down");
});

Deno.test("engine: sameJson is JSON equality without the JSON", () => {
  const s = { a: 1, b: [1, { c: null }], d: "x" };
  assert.ok(sameJson(s, structuredClone(s)));
  assert.ok(!sameJson(s, { ...s, d: "y" }));
  assert.ok(!sameJson(s, { ...s, b: [1, { c: 0 }] }));
  assert.ok(!sameJson({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!sameJson([1], { 0: 1 }));
  assert.ok(!sameJson(null, {}));
});
