import assert from "node:assert/strict";
import {
  type Effect,
  type IncidentContext,
  type IncidentEvent,
  initialIncident,
  nextIncident,
  toView,
} from "./incident.ts";
import type {
  IncidentRecord,
  IncidentState,
  IncidentView,
  Phase,
  Vote,
  VoteStatus,
} from "./types.ts";
import { notice, peer } from "./fixtures_testing.ts";

const ctx: IncidentContext = {
  self: "b",
  nodesTotal: 3,
  rule: { kind: "count", count: 2 },
  timing: { settleMs: 3000, handoverMs: 20000, recoverHoldMs: 0, remindMs: 0 },
};
const H = "www", T = "http";
const vote = (status: VoteStatus, at = 0): Vote => ({ node: "b", status, output: status, at });
const check = (status: VoteStatus): IncidentEvent => ({ type: "check", vote: vote(status) });
const confirm = (
  self: VoteStatus,
  peers: ReturnType<typeof peer>[],
  startedAt: number,
): IncidentEvent => ({
  type: "round",
  mode: "confirm",
  startedAt,
  self: vote(self, startedAt),
  peers,
});
const view = (peers: ReturnType<typeof peer>[], startedAt: number): IncidentEvent => ({
  type: "round",
  mode: "view",
  startedAt,
  self: null,
  peers,
});
function pv(phase: Phase, o: Partial<IncidentView> = {}): IncidentView {
  return { host: H, test: T, phase, claim: null, incident: null, closed: null, ...o };
}
function rec(id: string, o: Partial<IncidentRecord> = {}): IncidentRecord {
  return { id, startedAt: 0, endedAt: null, down: null, recovered: null, ...o };
}

/** Runs events at the given times; returns the final state and every effect, compactly. */
function run(
  events: [number, IncidentEvent][],
  start: IncidentState = initialIncident(H, T, 0),
  c: IncidentContext = ctx,
) {
  let s = start;
  const all: Effect[] = [];
  for (const [now, e] of events) {
    const step = nextIncident(s, e, c, now);
    s = step.state;
    all.push(...step.effects);
  }
  const fx = all.flatMap((e) => {
    switch (e.type) {
      case "log":
        return [];
      case "ask":
        return [`ask ${e.mode}`];
      case "wake":
        return [`wake ${e.at}`];
      case "announce":
        return ["announce"];
      case "notify":
        return [`notify ${e.notification.kind} ${e.notification.id}`];
    }
  });
  const logs = all.flatMap((e) => e.type === "log" ? [e.msg] : []);
  return { s, fx, logs };
}

const downState = (o: Partial<IncidentState> = {}): IncidentState => ({
  ...initialIncident(H, T, 0),
  phase: "down",
  since: 1000,
  incident: rec("www/http/1000/b", { startedAt: 1000 }),
  ...o,
});

Deno.test("nextIncident: a passing check with nothing open does nothing", () => {
  const { s, fx } = run([[10, check("OK")]]);
  assert.equal(s.phase, "ok");
  assert.deepEqual(fx, []);
});

Deno.test("nextIncident: ok -> suspect -> down, claims, settles, commits exactly one down notice", () => {
  const { s, fx, logs } = run([
    [1000, check("FAIL")],
    [1000, confirm("FAIL", [peer("a", "OK"), peer("c", "FAIL", { incident: pv("ok") })], 1000)],
    [4000, { type: "wake" }],
    [
      4000,
      view(
        [peer("a", "OK", { incident: pv("ok") }), peer("c", "OK", { incident: pv("down") })],
        4000,
      ),
    ],
    [4001, { type: "delivered", id: "www/http/1000/b/down" }],
  ]);
  assert.deepEqual(fx, [
    "ask confirm",
    "wake 4000",
    "ask view",
    "announce", // the commit is pushed to every peer before delivering
    "notify down www/http/1000/b/down",
    "announce", // and so is the delivery
  ]);
  assert.ok(logs.includes("outage confirmed by quorum"));
  assert.equal(s.phase, "down");
  assert.deepEqual(s.incident?.down, notice("b", 4000, 4001));
  assert.equal(s.claim, null);
});

Deno.test("nextIncident: a lower node that confirmed the outage too gets the notice: yield", () => {
  const { s, fx } = run([
    [1000, check("FAIL")],
    [1000, confirm("FAIL", [peer("a", "FAIL", { incident: pv("down") }), peer("c", "FAIL")], 1000)],
  ]);
  assert.equal(s.phase, "down");
  assert.equal(s.claim, null);
  assert.deepEqual(fx, ["ask confirm"]);
});

Deno.test("nextIncident: a lower node that starts claiming during the settle time wins", () => {
  const { s, fx, logs } = run([
    [1000, check("FAIL")],
    [1000, confirm("FAIL", [peer("a", "OK"), peer("c", "FAIL")], 1000)],
    [
      4000,
      view([peer("a", "FAIL", { incident: pv("down", { claim: "down" }) }), peer("c", "OK")], 4000),
    ],
  ]);
  assert.equal(s.claim, null);
  assert.deepEqual(fx, ["ask confirm", "wake 4000"]);
  assert.ok(logs.includes("yielding down notice"));
});

Deno.test("nextIncident: local-only and unconfirmed never notify", () => {
  const local = run([
    [1000, check("FAIL")],
    [1000, confirm("FAIL", [peer("a", "OK"), peer("c", "OK")], 1000)],
    [61000, check("FAIL")],
    [61000, confirm("FAIL", [peer("a", "OK"), peer("c", "OK")], 61000)],
  ]);
  assert.equal(local.s.phase, "local-only");
  assert.deepEqual(local.fx, ["ask confirm", "ask confirm"]);
  assert.deepEqual(local.logs, ["this node's view differs: peers do not confirm the failure"]);
  const alone = run([
    [1000, check("TIMEOUT")],
    [1000, confirm("TIMEOUT", [peer("a", "UNREACHABLE"), peer("c", "UNKNOWN")], 1000)],
  ]);
  assert.equal(alone.s.phase, "unconfirmed");
  const back = run([[70000, check("OK")]], local.s);
  assert.equal(back.s.phase, "ok");
});

Deno.test("nextIncident: adopts another node's committed down notice instead of claiming", () => {
  const theirs = rec("www/http/900/a", { startedAt: 900, down: notice("a", 950, 960) });
  const { s, fx } = run([
    [1000, check("FAIL")],
    [
      1000,
      confirm("FAIL", [
        peer("a", "FAIL", { incident: pv("down", { incident: theirs }) }),
        peer("c", "OK"),
      ], 1000),
    ],
  ]);
  assert.equal(s.phase, "down");
  assert.equal(s.incident?.id, "www/http/900/a");
  assert.deepEqual(s.incident?.down, notice("a", 950, 960));
  assert.equal(s.claim, null);
  assert.deepEqual(fx, ["ask confirm"]);
});

Deno.test("nextIncident: adopting an incident keeps what any view knew (here: its delivery)", () => {
  const committed = rec("www/http/900/a", { startedAt: 900, down: notice("a", 950) });
  const delivered = rec("www/http/900/a", { startedAt: 900, down: notice("a", 950, 960) });
  const { s } = run([
    [970, { type: "heard", view: pv("down", { incident: delivered }) }], // a announced delivery
    [
      1000,
      confirm("FAIL", [
        peer("a", "UNREACHABLE"),
        peer("c", "FAIL", { incident: pv("down", { incident: committed }) }),
      ], 1000),
    ],
  ], { ...initialIncident(H, T, 0), phase: "suspect" });
  assert.deepEqual(s.incident?.down, notice("a", 950, 960));
  assert.equal(s.heard, null);
});

Deno.test("nextIncident: an outage already closed elsewhere is not adopted", () => {
  const old = rec("www/http/1/a", {
    startedAt: 1,
    down: notice("a", 2, 3),
    recovered: notice("a", 50, 51),
  });
  const stale = rec("www/http/1/a", { startedAt: 1, down: notice("a", 2, 3) });
  const { s, fx } = run([
    [1000, check("FAIL")],
    [
      1000,
      confirm("FAIL", [
        peer("a", "FAIL", { incident: pv("down", { closed: old }) }),
        peer("c", "FAIL", { incident: pv("down", { incident: stale }) }),
      ], 1000),
    ],
  ]);
  assert.equal(s.incident?.id, "www/http/1000/b");
  assert.equal(s.claim, null); // a is lower and in phase down: it gets the new notice
  assert.deepEqual(fx, ["ask confirm"]);
});

Deno.test("nextIncident: down -> recovering -> recovered: a second fresh round after the hold, one recovery, then ok", () => {
  const start = downState({
    incident: rec("www/http/1000/b", { startedAt: 1000, down: notice("b", 4000, 4001) }),
  });
  const held: IncidentContext = { ...ctx, timing: { ...ctx.timing, recoverHoldMs: 5000 } };
  const { s, fx, logs } = run(
    [
      [61000, check("OK")], // claims the recovery ahead of the verdict
      [61000, confirm("OK", [peer("a", "OK"), peer("c", "FAIL")], 61000)],
      // A passing round inside the hold is not the second one.
      [62000, check("OK")],
      [62000, confirm("OK", [peer("a", "OK"), peer("c", "OK")], 62000)],
      [66000, { type: "wake" }],
      [
        66000,
        confirm("OK", [peer("a", "OK"), peer("c", "OK", { incident: pv("recovering") })], 66000),
      ],
      [66001, { type: "delivered", id: "www/http/1000/b/recovered" }],
    ],
    start,
    held,
  );
  assert.deepEqual(fx, [
    "ask confirm",
    "wake 66000", // the hold (5 s) outlasts the claim's settle time (3 s)
    "ask confirm",
    "wake 66000",
    "ask confirm", // peers check again now: not the next scheduled check, an interval later
    "announce",
    "notify recovered www/http/1000/b/recovered",
    "announce",
  ]);
  assert.ok(logs.includes("recovery confirmed by quorum"));
  assert.equal(s.phase, "ok");
  assert.equal(s.incident, null);
  assert.deepEqual(s.closed?.recovered, notice("b", 66000, 66001));
  assert.equal(s.closed?.endedAt, 61000);
});

Deno.test("nextIncident: the timer's recovery round asks for results taken now, voting the latest local one", () => {
  const start = downState({
    incident: rec("www/http/1000/b", { startedAt: 1000, down: notice("b", 4000, 4001) }),
  });
  let st = start;
  for (
    const [now, e] of [
      [61000, check("OK")],
      [61000, confirm("OK", [peer("a", "OK"), peer("c", "OK")], 61000)],
    ] as [number, IncidentEvent][]
  ) st = nextIncident(st, e, ctx, now).state;
  const { effects } = nextIncident(st, { type: "wake" }, ctx, 64000);
  assert.deepEqual(effects, [{
    type: "ask",
    mode: "confirm",
    self: vote("OK", 61000),
    since: 64000,
  }]);
});

Deno.test("nextIncident: a flap during recovery returns to down without any notice", () => {
  const start = downState({
    incident: rec("www/http/1000/b", { startedAt: 1000, down: notice("b", 4000, 4001) }),
  });
  const { s, fx, logs } = run([
    [61000, confirm("OK", [peer("a", "OK"), peer("c", "OK")], 61000)],
    [62000, confirm("FAIL", [peer("a", "FAIL"), peer("c", "OK")], 62000)],
    [64000, { type: "wake" }], // the recovery round's timer, now for nothing to confirm
  ], start);
  assert.equal(s.phase, "down");
  assert.equal(s.incident?.endedAt, null);
  assert.equal(s.claim, null, "the recovery claim is dropped");
  assert.deepEqual(fx, ["wake 64000", "ask view"]);
  assert.ok(logs.includes("failing again before recovery was confirmed"));
});

Deno.test("nextIncident: an outage that ends before anyone committed closes quietly", () => {
  const { s, fx } = run([
    [1000, confirm("FAIL", [peer("a", "OK"), peer("c", "FAIL")], 1000)], // claims
    [2000, confirm("OK", [peer("a", "OK"), peer("c", "OK")], 2000)], // recovering: claim dropped
    [62000, confirm("OK", [peer("a", "OK"), peer("c", "OK")], 62000)],
  ], { ...initialIncident(H, T, 0), phase: "suspect" });
  assert.equal(s.phase, "ok");
  assert.equal(s.closed, null);
  assert.deepEqual(fx, ["wake 4000", "wake 2000"]);
});

Deno.test("nextIncident: a late node learns the recovery was sent and closes without sending", () => {
  const id = "www/http/1000/a";
  const start = downState({
    phase: "recovering",
    incident: rec(id, { startedAt: 1000, down: notice("a", 4000, 4001) }),
  });
  const closed = rec(id, {
    startedAt: 1000,
    down: notice("a", 4000, 4001),
    recovered: notice("a", 90000, 90001),
  });
  const { s, fx } = run([[
    120000,
    confirm("OK", [peer("a", "OK", { incident: pv("ok", { closed }) }), peer("c", "OK")], 120000),
  ]], start);
  assert.equal(s.phase, "ok");
  assert.deepEqual(s.closed?.recovered, notice("a", 90000, 90001));
  assert.deepEqual(fx, []);
});

Deno.test("nextIncident: delivery facts about a closed incident still arrive after it closed", () => {
  const id = "www/http/1000/a";
  const closed = rec(id, {
    startedAt: 1000,
    down: notice("a", 4000, 4001),
    recovered: notice("a", 90000),
  });
  const start = { ...initialIncident(H, T, 0), closed };
  const delivered = rec(id, { ...closed, recovered: notice("a", 90000, 90010) });
  const { s, fx } = run([[90020, { type: "heard", view: pv("ok", { closed: delivered }) }]], start);
  assert.deepEqual(s.closed?.recovered, notice("a", 90000, 90010));
  assert.deepEqual(fx, []);
  // The same through a round (a peer's answer), for a node that missed the announcement.
  const viaRound = run([[
    90020,
    view([peer("a", "OK", { incident: pv("ok", { closed: delivered }) })], 90020),
  ]], start);
  assert.deepEqual(viaRound.s.closed?.recovered, notice("a", 90000, 90010));
});

Deno.test("nextIncident: hand-over of a notice committed by a node that died before delivering", () => {
  const id = "www/http/1000/a";
  const start = downState({ incident: rec(id, { startedAt: 1000, down: notice("a", 4000) }) });
  const { s, fx } = run([
    // a silent for 1 s: still its notice, wait until it would be absent
    [
      5000,
      confirm("FAIL", [
        peer("a", "UNREACHABLE", { since: 4000 }),
        peer("c", "FAIL", { incident: pv("down") }),
      ], 5000),
    ],
    // a silent for the hand-over delay: b is first among the rest, claims, settles, commits
    [
      24000,
      view(
        [peer("a", "UNREACHABLE", { since: 4000 }), peer("c", "FAIL", { incident: pv("down") })],
        24000,
      ),
    ],
    [
      27000,
      view(
        [peer("a", "UNREACHABLE", { since: 4000 }), peer("c", "FAIL", { incident: pv("down") })],
        27000,
      ),
    ],
  ], start);
  assert.deepEqual(fx, ["wake 24000", "wake 27000", "announce", `notify down ${id}/down`]);
  assert.deepEqual(s.incident?.down, notice("b", 27000, null, ["a"]));
});

Deno.test("nextIncident: reminders every remind interval from the notifier only", () => {
  const c = { ...ctx, timing: { ...ctx.timing, remindMs: 60000 } };
  const mine = downState({
    incident: rec("www/http/1000/b", { startedAt: 1000, down: notice("b", 4000, 5000) }),
  });
  const r = run(
    [
      [5000, { type: "delivered", id: "nothing" }],
      [65000, view([], 65000)],
      [70000, view([], 70000)],
    ],
    mine,
    c,
  );
  assert.deepEqual(r.fx, [
    "wake 65000",
    "notify reminder www/http/1000/b/reminder/1",
    "wake 125000",
    "wake 125000",
  ]);
  const theirs = downState({
    incident: rec("www/http/1000/a", { startedAt: 1000, down: notice("a", 4000, 5000) }),
  });
  assert.deepEqual(run([[65000, view([peer("a", "FAIL")], 65000)]], theirs, c).fx, []);
});

Deno.test("nextIncident: a rejected notification is retried on the next event", () => {
  const start = downState({
    incident: rec("www/http/1000/b", { startedAt: 1000, down: notice("b", 4000) }),
  });
  const { s, fx, logs } = run([
    [4001, { type: "undelivered", id: "www/http/1000/b/down", error: "smtp down" }],
    [7001, { type: "wake" }],
    [7002, view([peer("a", "FAIL"), peer("c", "FAIL")], 7001)],
    [7003, { type: "delivered", id: "www/http/1000/b/down" }],
    [8000, check("FAIL")],
  ], start);
  assert.deepEqual(fx, [
    "wake 7001",
    "ask view",
    "notify down www/http/1000/b/down",
    "announce",
    "ask confirm",
  ]);
  assert.deepEqual(logs, ["notifier failed, will retry"]);
  assert.equal(s.incident?.down?.deliveredAt, 7003);
});

Deno.test("nextIncident: back from a crash, a node does not re-deliver a notice taken over meanwhile", () => {
  const id = "www/http/1000/b";
  // b committed, died before delivering; a took it over (b passed) while b was away.
  const start = downState({ incident: rec(id, { startedAt: 1000, down: notice("b", 4000) }) });
  const theirs = rec(id, { startedAt: 1000, down: notice("a", 30000, 30001, ["b"]) });
  const { s, fx } = run([
    [40000, { type: "wake" }],
    [
      40100,
      view(
        [peer("a", "FAIL", { incident: pv("down", { incident: theirs }) }), peer("c", "FAIL")],
        40000,
      ),
    ],
  ], start);
  assert.deepEqual(fx, ["ask view"]);
  assert.deepEqual(s.incident?.down, notice("a", 30000, 30001, ["b"]));
});

Deno.test("nextIncident: single-node mode notifies at once, without settling", () => {
  const solo: IncidentContext = { ...ctx, nodesTotal: 1 };
  const { s, fx } = run(
    [
      [1000, check("FAIL")],
      [1000, confirm("FAIL", [], 1000)],
    ],
    undefined,
    solo,
  );
  assert.deepEqual(fx, ["ask confirm", "notify down www/http/1000/b/down"]);
  assert.equal(s.incident?.down?.by, "b");
});

Deno.test("nextIncident: a failing check claims at once, so the settle time runs during the confirm round", () => {
  const fast: IncidentContext = { ...ctx, settleMs: 600 };
  const first = nextIncident(initialIncident(H, T, 0), check("FAIL"), fast, 1000).state;
  assert.equal(first.phase, "suspect");
  assert.deepEqual([first.claim, first.claimedAt, first.settleMs], ["down", 1000, 600]);
  const { s, fx } = run(
    [
      [1200, confirm("FAIL", [peer("a", "OK"), peer("c", "FAIL", { incident: pv("ok") })], 1000)],
      [1600, { type: "wake" }],
      [1600, view([peer("a", "OK", { incident: pv("ok") }), peer("c", "OK")], 1600)],
    ],
    first,
    fast,
  );
  assert.deepEqual(fx, ["wake 1600", "ask view", "announce", "notify down www/http/1200/b/down"]);
  assert.equal(s.incident?.down?.committedAt, 1600);
});

Deno.test("nextIncident: a claiming peer's settle time, when longer, is waited for before committing", () => {
  const fast: IncidentContext = { ...ctx, settleMs: 600 };
  const slowClaim = pv("down", { claim: "down", settleMs: 2500 });
  const { s, fx } = run(
    [
      [1000, check("FAIL")],
      [1000, confirm("FAIL", [peer("a", "OK"), peer("c", "FAIL", { incident: slowClaim })], 1000)],
      [1600, { type: "wake" }],
      [1600, view([peer("a", "OK"), peer("c", "FAIL", { incident: slowClaim })], 1600)],
      [3500, { type: "wake" }],
      [3500, view([peer("a", "OK"), peer("c", "FAIL", { incident: slowClaim })], 3500)],
    ],
    initialIncident(H, T, 0),
    fast,
  );
  assert.deepEqual(fx, [
    "ask confirm",
    "wake 3500", // claimed at 1000, c's claim settles in 2500 ms: not before 3500
    "ask view",
    "wake 3500",
    "ask view",
    "announce",
    "notify down www/http/1000/b/down",
  ]);
  assert.equal(s.incident?.down?.committedAt, 3500);
  // A peer that does not say its settle time counts as the longest (timing.settleMs).
  const old = pv("down", { claim: "down" });
  const r = run(
    [
      [1000, check("FAIL")],
      [1000, confirm("FAIL", [peer("a", "OK"), peer("c", "FAIL", { incident: old })], 1000)],
    ],
    initialIncident(H, T, 0),
    fast,
  );
  assert.deepEqual(r.fx, ["ask confirm", "wake 4000"]);
});

Deno.test("nextIncident: a lower peer that only claims (its verdict pending) makes this node yield, and look again", () => {
  const { s, fx } = run([
    [1000, check("FAIL")],
    [
      1000,
      confirm("FAIL", [
        peer("a", "FAIL", { incident: pv("suspect", { claim: "down", settleMs: 600 }) }),
        peer("c", "FAIL"),
      ], 1000),
    ],
  ]);
  assert.equal(s.phase, "down");
  assert.equal(s.claim, null);
  assert.deepEqual(fx, ["ask confirm", "wake 4000"]);
});

Deno.test("nextIncident: the published view carries a claim's settle time, and only while claiming", () => {
  const fast: IncidentContext = { ...ctx, settleMs: 700 };
  const s = nextIncident(initialIncident(H, T, 0), check("FAIL"), fast, 1000).state;
  assert.equal(toView(s).settleMs, 700);
  const solo: IncidentContext = { ...fast, nodesTotal: 1 };
  const alone = nextIncident(initialIncident(H, T, 0), check("FAIL"), solo, 1000).state;
  assert.equal(alone.claim, null, "single-node mode never claims");
  assert.equal("settleMs" in toView(alone), false);
});

Deno.test("nextIncident: any check while down claims the recovery ahead of the verdict; a round still failing drops it", () => {
  const start = downState({
    incident: rec("www/http/1000/b", { startedAt: 1000, down: notice("b", 4000, 4001) }),
  });
  const failing = nextIncident(start, check("FAIL"), ctx, 61000).state;
  assert.deepEqual([failing.claim, failing.claimedAt], ["recovered", 61000]);
  const still = nextIncident(
    failing,
    confirm("FAIL", [peer("a", "FAIL"), peer("c", "OK")], 61000),
    ctx,
    61100,
  ).state;
  assert.equal(still.phase, "down");
  assert.equal(still.claim, null);
  // The peers, checking anew, see it back before this node does: recovering, claim kept.
  const back = nextIncident(
    failing,
    confirm("FAIL", [peer("a", "OK"), peer("c", "OK")], 61000),
    ctx,
    61100,
  ).state;
  assert.equal(back.phase, "recovering");
  assert.deepEqual([back.claim, back.claimedAt], ["recovered", 61000]);
});
