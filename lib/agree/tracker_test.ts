import assert from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import { digestOf, type Entry, type TreeSummary } from "./digest.ts";
import { AgreementTracker } from "./tracker.ts";

const sum = (entries: Entry[]): TreeSummary => ({ digest: digestOf(entries), entries });
const cluster: Entry = { key: "(cluster)", fields: { quorum: "2", nodes: "n1 n2 n3" } };
const ssh: Entry = { key: "h/ssh", fields: { runs: "built-in ssh" } };
const tcp: Entry = { key: "h/tcp", fields: { runs: "built-in tcp", "param port": "80" } };
const tcp2: Entry = { key: "h/tcp", fields: { runs: "built-in tcp", "param port": "81" } };

function kit(mine: TreeSummary, remote: Record<string, TreeSummary>) {
  const log = memoryLogger();
  const fetched: string[] = [];
  let now = 0;
  const t = new AgreementTracker({
    summary: () => mine,
    self: () => "n1",
    peers: () => [
      { key: "a:1 n2", address: "a:1", name: "n2" },
      { key: "b:1 n3", address: "b:1", name: "n3" },
    ],
    needed: () => 2,
    fetchSummary: (key) => {
      fetched.push(key);
      const r = remote[key];
      return r ? Promise.resolve(r) : Promise.reject(new Error("no answer within 5000 ms"));
    },
    log,
    now: () => now,
  });
  return { t, log, fetched, advance: (ms: number) => now += ms };
}

Deno.test("tracker: nothing known before the first answers; equal digests fetch nothing", async () => {
  const mine = sum([cluster, ssh, tcp]);
  const k = kit(mine, {});
  assert.deepEqual(k.t.view().peers.map((p) => p.agrees), [null, null]);
  assert.deepEqual(k.t.view().unconfirmable, [], "unknown peers may run everything");
  await k.t.heard([
    { key: "a:1 n2", node: "n2", digest: mine.digest },
    { key: "b:1 n3", node: "n3", digest: mine.digest },
  ]);
  assert.deepEqual(k.fetched, []);
  assert.deepEqual(k.t.view().peers.map((p) => p.agrees), [true, true]);
  assert.deepEqual(k.log.lines, []);
});

Deno.test("tracker: a differing digest is fetched once, shown, and logged once", async () => {
  const mine = sum([cluster, ssh, tcp]);
  const theirs = sum([cluster, tcp2]);
  const k = kit(mine, { "b:1 n3": theirs });
  const round = [
    { key: "a:1 n2", node: "n2", digest: mine.digest },
    { key: "b:1 n3", node: "n3", digest: theirs.digest },
  ];
  await k.t.heard(round);
  await k.t.heard(round);
  assert.deepEqual(k.fetched, ["b:1 n3"], "fetched only when the digest is new");
  const v = k.t.view();
  assert.equal(v.peers[0]!.agrees, true);
  assert.deepEqual(v.peers[1], {
    address: "b:1",
    node: "n3",
    digest: theirs.digest,
    error: null,
    agrees: false,
    differenceCount: 2,
    differences: [
      { key: "h/ssh", change: "only-here", text: "h/ssh: only on n1" },
      { key: "h/tcp", change: "differs", text: "h/tcp: param port: 80 on n1, 81 on n3" },
    ],
  });
  // n1 and n2 (same digest) run h/ssh: quorum 2 is reachable.
  assert.deepEqual(v.unconfirmable, []);
  const warns = k.log.lines.filter((l) => l.includes("peer configuration differs"));
  assert.equal(warns.length, 1, k.log.lines.join("\n"));
  assert.match(warns[0]!, /node=n3 .*differences=2 first="h\/ssh: only on n1"/);
});

Deno.test("tracker: a test only this node runs can never be confirmed; logged once, then cleared", async () => {
  const mine = sum([cluster, ssh, tcp]);
  const theirs = sum([cluster, tcp]);
  const k = kit(mine, { "a:1 n2": theirs, "b:1 n3": theirs });
  const round = [
    { key: "a:1 n2", node: "n2", digest: theirs.digest },
    { key: "b:1 n3", node: "n3", digest: theirs.digest },
  ];
  await k.t.heard(round);
  await k.t.heard(round);
  assert.deepEqual(k.t.view().unconfirmable.map((u) => u.message), [
    "h/ssh: configured on 1 node, quorum 2: it can never be confirmed",
  ]);
  const lines = () => k.log.lines.filter((l) => l.includes("can never be confirmed"));
  assert.equal(lines().length, 1, k.log.lines.join("\n"));
  // n2 gets ssh too: it agrees now, and ssh can be confirmed again.
  await k.t.heard([{ key: "a:1 n2", node: "n2", digest: mine.digest }, round[1]!]);
  assert.deepEqual(k.t.view().unconfirmable, []);
  assert.ok(k.log.lines.some((l) => l.includes("h/ssh: can be confirmed again")));
  assert.ok(k.log.lines.some((l) => l.includes("peer configuration agrees again")));
});

Deno.test("tracker: a failed fetch is shown, retried only after the retry time", async () => {
  const mine = sum([cluster, ssh]);
  const k = kit(mine, {});
  const round = [{ key: "a:1 n2", node: "n2", digest: "0123456789abcdef" }];
  await k.t.heard(round);
  await k.t.heard(round);
  assert.equal(k.fetched.length, 1);
  const p = k.t.view().peers[0]!;
  assert.equal(p.agrees, false);
  assert.equal(p.error, "no answer within 5000 ms");
  k.advance(10_000);
  await k.t.heard(round);
  assert.equal(k.fetched.length, 2);
});
