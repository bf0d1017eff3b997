import assert from "node:assert/strict";
import {
  ACK_KEEP_MS,
  digest,
  liveSilences,
  MAX_RECORDS,
  mergeRecords,
  parseRecord,
  pick,
  SILENCE_KEEP_MS,
} from "./merge.ts";
import { recordKey, type SharedAck, type SharedRecord, type SharedSilence } from "./types.ts";
import { ClockSkew, skewProblem } from "./clock_skew.ts";

const NOW = 1_700_000_000_000;

function silence(id: string, o: Partial<SharedSilence> = {}): SharedSilence {
  return {
    kind: "silence",
    id,
    host: "db1",
    test: "ssh",
    until: NOW + 3_600_000,
    reason: "disk swap",
    by: "alice",
    origin: "n1",
    createdAt: NOW,
    removed: null,
    ...o,
  };
}

function ack(id: string, o: Partial<SharedAck> = {}): SharedAck {
  return {
    kind: "ack",
    id,
    host: "db1",
    test: "ssh",
    by: "bob",
    origin: "n2",
    at: NOW,
    reason: "",
    ...o,
  };
}

/** Merges a sequence of deliveries into an empty node, one at a time. */
function replay(records: readonly SharedRecord[]): Map<string, SharedRecord> {
  const held = new Map<string, SharedRecord>();
  for (const r of records) {
    for (const c of mergeRecords(held, [r], NOW).changed) held.set(recordKey(c), c);
  }
  return held;
}

Deno.test("merge: a removal beats the live silence in either order, and the earlier removal wins", () => {
  const live = silence("aaaaaaaaaaaa");
  const gone = silence("aaaaaaaaaaaa", { removed: { at: NOW + 5, by: "carol", origin: "n3" } });
  const goneEarlier = silence("aaaaaaaaaaaa", {
    removed: { at: NOW + 1, by: "dan", origin: "n2" },
  });
  assert.equal(pick(live, gone), gone);
  assert.equal(pick(gone, live), gone);
  assert.equal(pick(gone, goneEarlier), goneEarlier);
  assert.equal(pick(goneEarlier, gone), goneEarlier);
  // A removal made on a node whose clock is behind the creation still wins: removal is final.
  const behind = silence("aaaaaaaaaaaa", { removed: { at: NOW - 60_000, by: "e", origin: "n3" } });
  assert.equal(pick(live, behind), behind);
});

Deno.test("merge: the later acknowledgement of an incident wins; equal times fall back to the text", () => {
  const a = ack("inc-1", { at: NOW, by: "bob" });
  const b = ack("inc-1", { at: NOW + 10, by: "alice" });
  assert.equal(pick(a, b), b);
  assert.equal(pick(b, a), b);
  const c = ack("inc-1", { at: NOW, by: "zed" });
  assert.equal(pick(a, c), pick(c, a));
});

Deno.test("merge: every order of the same deliveries gives the same set and the same digest", () => {
  const records: SharedRecord[] = [
    silence("aaaaaaaaaaaa"),
    silence("aaaaaaaaaaaa", { removed: { at: NOW + 5, by: "carol", origin: "n3" } }),
    silence("bbbbbbbbbbbb", { host: "web1", test: null }),
    ack("inc-1", { at: NOW }),
    ack("inc-1", { at: NOW + 9, by: "alice" }),
    silence("cccccccccccc", { until: NOW + 60_000 }),
  ];
  const want = digest(replay(records).values());
  // All 720 permutations, and each delivered twice (duplicates are harmless).
  const perms = (xs: SharedRecord[]): SharedRecord[][] =>
    xs.length <= 1
      ? [xs]
      : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
  for (const p of perms(records)) assert.equal(digest(replay([...p, ...p]).values()), want);
  const held = replay(records);
  assert.equal(held.size, 4);
  assert.notEqual((held.get("silence:aaaaaaaaaaaa") as SharedSilence).removed, null);
  assert.equal((held.get("ack:inc-1") as SharedAck).by, "alice");
});

Deno.test("merge: unchanged records are not reported as changed; the digest ignores order", () => {
  const s = silence("aaaaaaaaaaaa");
  const held = new Map<string, SharedRecord>([[recordKey(s), s]]);
  assert.deepEqual(mergeRecords(held, [structuredClone(s)], NOW).changed, []);
  const a = silence("bbbbbbbbbbbb"), b = ack("x");
  assert.equal(digest([a, b]), digest([b, a]));
  assert.notEqual(digest([a]), digest([a, b]));
  assert.notEqual(digest([s]), digest([{ ...s, removed: { at: NOW, by: "x", origin: "n1" } }]));
});

Deno.test("merge: obsolete records are ignored, and a full node refuses new keys", () => {
  const old = silence("aaaaaaaaaaaa", { until: NOW - SILENCE_KEEP_MS - 1 });
  const endedRecently = silence("bbbbbbbbbbbb", { until: NOW - 1000 });
  const oldAck = ack("inc-old", { at: NOW - ACK_KEEP_MS - 1 });
  const r = mergeRecords(new Map(), [old, endedRecently, oldAck], NOW);
  assert.deepEqual(r.changed.map((x) => x.id), ["bbbbbbbbbbbb"]);
  const full = new Map<string, SharedRecord>();
  for (let i = 0; i < MAX_RECORDS; i++) full.set(`ack:${i}`, ack(String(i)));
  const over = mergeRecords(full, [silence("dddddddddddd"), ack("1", { at: NOW + 1 })], NOW);
  assert.equal(over.refused, 1);
  assert.deepEqual(over.changed.map((x) => x.id), ["1"], "an update of a held key still applies");
});

Deno.test("merge: live silences exclude removed and ended ones, longest first", () => {
  const recs = [
    silence("aaaaaaaaaaaa", { until: NOW + 10 }),
    silence("bbbbbbbbbbbb", { until: NOW + 99 }),
    silence("cccccccccccc", { removed: { at: NOW, by: "x", origin: "n1" } }),
    silence("dddddddddddd", { until: NOW }),
    ack("inc"),
  ];
  assert.deepEqual(liveSilences(recs, NOW).map((s) => s.id), ["bbbbbbbbbbbb", "aaaaaaaaaaaa"]);
});

Deno.test("wire: records are checked field by field", () => {
  const good = silence("aaaaaaaaaaaa", { host: "DB1" });
  assert.equal((parseRecord(JSON.parse(JSON.stringify(good)), "r") as SharedSilence).host, "db1");
  assert.deepEqual(parseRecord(JSON.parse(JSON.stringify(ack("a/b-1"))), "r"), ack("a/b-1"));
  const bad: [unknown, RegExp][] = [
    [null, /r: must be an object/],
    [{ ...good, kind: "mute" }, /r\.kind: must be silence or ack/],
    [{ ...good, id: "xyz" }, /r\.id: is not valid/],
    [{ ...good, host: "a b" }, /r\.host: is not valid/],
    [{ ...good, until: "soon" }, /r\.until: must be epoch milliseconds/],
    [{ ...good, reason: "a\x1b[2Jb" }, /r\.reason: must not hold control characters/],
    [{ ...good, reason: "x".repeat(1001) }, /r\.reason: is not valid/],
    [{ ...good, removed: { at: 1, by: "x" } }, /r\.removed\.origin: must be a string/],
    [{ ...ack("i"), test: null }, /r\.test: must be a string/],
  ];
  for (const [x, re] of bad) assert.throws(() => parseRecord(x, "r"), re, JSON.stringify(x));
});

Deno.test("clock skew: the largest recent sample is the estimate; old samples are forgotten", () => {
  const k = new ClockSkew();
  assert.equal(k.offset("n2", NOW), null);
  // Peer 7 s ahead; each request took 5-300 ms to arrive (delay lowers the sample).
  for (const [i, delay] of [[0, 300], [1, 5], [2, 120]] as const) {
    k.observe("n2", NOW + i * 2000 + 7000 - delay, NOW + i * 2000);
  }
  assert.deepEqual(k.offset("n2", NOW + 4000), { offsetMs: 6995, at: NOW + 4000 });
  assert.equal(k.offset("n2", NOW + 4000 + 61_000), null);
  assert.match(skewProblem("n2", 6995)!, /^clock of n2 is 7\.0 s ahead of this node's/);
  assert.match(skewProblem("n3", -12_000)!, /12\.0 s behind/);
  assert.equal(skewProblem("n2", 4000), null);
  assert.equal(skewProblem("n2", -5000), null);
});
