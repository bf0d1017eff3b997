import assert from "node:assert/strict";
import { electNotifier, mergeNotice, peerPresence, planClaim } from "./election.ts";
import { notice, peer } from "./fixtures_testing.ts";

Deno.test("electNotifier: first in name order, skipping handed-over nodes", () => {
  const table: [string[], string[], string | null][] = [
    [["c", "a", "b"], [], "a"],
    [["c", "a", "b"], ["a"], "b"],
    [["c", "a", "b"], ["a", "b"], "c"],
    [["a"], ["a"], null],
    [[], [], null],
    [["node10", "node2"], [], "node10"], // plain string order, not numeric
  ];
  for (const [cands, passed, want] of table) assert.equal(electNotifier(cands, passed), want);
});

Deno.test("peerPresence: present, freshly silent, absent after the hand-over delay", () => {
  const H = 1000;
  const table: {
    peers: ReturnType<typeof peer>[];
    now: number;
    want: string;
    at: number | null;
  }[] = [
    { peers: [peer("b", "OK")], now: 5000, want: "present", at: null },
    { peers: [peer("b", "UNKNOWN")], now: 5000, want: "present", at: null },
    { peers: [peer("b", "UNREACHABLE", { since: 4500 })], now: 5000, want: "fresh", at: 5500 },
    { peers: [peer("b", "UNREACHABLE", { since: 4000 })], now: 5000, want: "absent", at: null },
    // never learned its name: an unnamed silent peer might be it
    {
      peers: [peer("x", "UNREACHABLE", { since: 4800, known: false })],
      now: 5000,
      want: "fresh",
      at: 5800,
    },
    {
      peers: [peer("x", "UNREACHABLE", { since: 3000, known: false })],
      now: 5000,
      want: "absent",
      at: null,
    },
    // a silent peer known under another name says nothing about b
    { peers: [peer("c", "UNREACHABLE", { since: 4900 })], now: 5000, want: "absent", at: null },
    { peers: [], now: 5000, want: "absent", at: null },
  ];
  for (const [i, t] of table.entries()) {
    const got = peerPresence("b", t.peers, t.now, H);
    assert.deepEqual([got.state, got.absentAt], [t.want, t.at], `row ${i}`);
  }
});

Deno.test("mergeNotice: the same choice on every node, whatever the argument order", () => {
  const a = notice("a", 100);
  const b = notice("b", 50);
  const bDelivered = notice("b", 50, 60);
  const cTookOverA = notice("c", 200, null, ["a"]);
  const table: [typeof a | null, typeof a | null, typeof a | null][] = [
    [null, null, null],
    [a, null, a],
    [a, b, b], // earlier commit
    [notice("a", 100, 120), b, notice("a", 100, 120)], // delivered beats undelivered
    [a, cTookOverA, cTookOverA], // hand-over supersedes
    [notice("b", 50), notice("a", 50), notice("a", 50)], // tie: lower name
    [b, bDelivered, bDelivered], // same notifier: facts merged
  ];
  for (const [i, [x, y, want]] of table.entries()) {
    assert.deepEqual(mergeNotice(x, y), want, `row ${i}`);
    assert.deepEqual(mergeNotice(y, x), want, `row ${i} reversed`);
  }
  assert.deepEqual(
    mergeNotice(notice("a", 1, null, ["x"]), notice("a", 1, 9, ["w"])),
    notice("a", 1, 9, ["w", "x"]),
  );
});

Deno.test("planClaim: claim, settle, final round, commit", () => {
  const base = {
    self: "b",
    rivals: [] as string[],
    passed: [] as string[],
    claimedAt: null as number | null,
    peers: [peer("a", "OK"), peer("c", "FAIL")],
    roundStartedAt: 1000,
    now: 1010,
    settleMs: 3000,
    rivalSettleMs: 0,
    handoverMs: 20000,
  };
  const table: { name: string; over: Partial<typeof base>; want: unknown }[] = [
    { name: "first in order claims", over: {}, want: { action: "claim", wakeAt: 4010 } },
    {
      name: "lower rival: yield",
      over: { rivals: ["a", "c"] },
      want: { action: "yield", to: "a" },
    },
    {
      name: "higher rival: claim",
      over: { rivals: ["c"] },
      want: { action: "claim", wakeAt: 4010 },
    },
    {
      name: "lower rival handed over: claim",
      over: { rivals: ["a"], passed: ["a"] },
      want: { action: "claim", wakeAt: 4010 },
    },
    {
      name: "self handed over: yield",
      over: { passed: ["b"], rivals: ["c"] },
      want: { action: "yield", to: "c" },
    },
    { name: "no peers: commit at once", over: { peers: [] }, want: { action: "commit" } },
    {
      name: "no peers, even with a claim: commit at once",
      over: { peers: [], claimedAt: 1000 },
      want: { action: "commit" },
    },
    {
      name: "a claiming peer's longer settle time: the claim waits for it",
      over: { settleMs: 600, rivalSettleMs: 2500 },
      want: { action: "claim", wakeAt: 3510 },
    },
    {
      name: "settled by this node's own time, not the claiming peer's: wait",
      over: { settleMs: 600, rivalSettleMs: 2500, claimedAt: 900, roundStartedAt: 1600 },
      want: { action: "settle", wakeAt: 3400 },
    },
    {
      name: "settled by both: commit",
      over: { settleMs: 600, rivalSettleMs: 2500, claimedAt: 900, roundStartedAt: 3400, now: 3450 },
      want: { action: "commit" },
    },
    {
      name: "the commit round must finish within this claim's own settle time",
      over: { settleMs: 600, rivalSettleMs: 2500, claimedAt: 900, roundStartedAt: 3400, now: 4001 },
      want: { action: "settle", wakeAt: 4001 },
    },
    {
      name: "round started before settle: wait",
      over: { claimedAt: 900, roundStartedAt: 3000, now: 3010 },
      want: { action: "settle", wakeAt: 3900 },
    },
    {
      name: "final round: commit",
      over: { claimedAt: 900, roundStartedAt: 3900, now: 3950 },
      want: { action: "commit" },
    },
    {
      name: "final round too slow: ask again",
      over: { claimedAt: 900, roundStartedAt: 3900, now: 6901 },
      want: { action: "settle", wakeAt: 6901 },
    },
    {
      name: "final round, a peer freshly silent: blocked until the hand-over delay",
      over: {
        claimedAt: 900,
        roundStartedAt: 3900,
        now: 3950,
        peers: [peer("a", "UNREACHABLE", { since: 3900 }), peer("c", "OK")],
      },
      want: { action: "blocked", wakeAt: 23900, waitingFor: ["a"] },
    },
    {
      name: "final round, a peer silent for longer than the hand-over delay: commit",
      over: {
        claimedAt: 900,
        roundStartedAt: 30000,
        now: 30010,
        peers: [peer("a", "UNREACHABLE", { since: 3900 }), peer("c", "OK")],
      },
      want: { action: "commit" },
    },
    {
      name: "claiming for the hand-over delay: a freshly silent higher peer no longer blocks",
      over: {
        claimedAt: 900,
        roundStartedAt: 25000,
        now: 25010,
        peers: [peer("a", "OK"), peer("c", "UNREACHABLE", { since: 24000 })],
      },
      want: { action: "commit" },
    },
    {
      name: "claiming for the hand-over delay: a freshly silent lower peer still blocks",
      over: {
        claimedAt: 900,
        roundStartedAt: 25000,
        now: 25010,
        peers: [peer("a", "UNREACHABLE", { since: 24000 }), peer("c", "OK")],
      },
      want: { action: "blocked", wakeAt: 44000, waitingFor: ["a"] },
    },
  ];
  for (const t of table) assert.deepEqual(planClaim({ ...base, ...t.over }), t.want, t.name);
});
