import assert from "node:assert/strict";
import type { QuorumRule } from "../config/types.ts";
import { compareNodes, decideQuorum, isDegraded, localVote, quorumNeeded } from "./quorum.ts";
import type { Vote, VoteStatus } from "./types.ts";

const count = (n: number): QuorumRule => ({ kind: "count", count: n });
const pct = (p: number): QuorumRule => ({ kind: "percent", percent: p });

Deno.test("quorumNeeded: counts, percentages of configured nodes, single-node mode", () => {
  const table: [QuorumRule, number, number][] = [
    [count(2), 3, 2],
    [count(2), 5, 2],
    [count(3), 3, 3],
    [count(2), 1, 1], // single-node mode: no peers, quorum is 1
    [count(5), 1, 1],
    [count(9), 4, 4], // clamped; lib/config reports it as an error
    [pct(50), 4, 2],
    [pct(50), 5, 3], // rounded up
    [pct(50), 3, 2],
    [pct(100), 5, 5],
    [pct(1), 5, 1],
    [pct(34), 3, 2],
  ];
  for (const [rule, total, want] of table) {
    assert.equal(quorumNeeded(rule, total), want, `${JSON.stringify(rule)} of ${total}`);
  }
});

function votes(spec: string): Vote[] {
  // "a:FAIL b:OK c:UNREACHABLE"
  return spec.split(" ").filter(Boolean).map((p) => {
    const [node, status] = p.split(":");
    return { node: node!, status: status as VoteStatus, output: "", at: 0 };
  });
}

Deno.test("decideQuorum: table of rounds (self is a)", () => {
  const table: {
    name: string;
    votes: string;
    rule: QuorumRule;
    total: number;
    verdict: string;
    quorumUp: boolean;
    failing: string;
  }[] = [
    {
      name: "2 of 3 fail",
      votes: "a:FAIL b:FAIL c:OK",
      rule: count(2),
      total: 3,
      verdict: "down",
      quorumUp: false,
      failing: "a,b",
    },
    {
      name: "timeout counts as failure",
      votes: "a:TIMEOUT b:FAIL c:OK",
      rule: count(2),
      total: 3,
      verdict: "down",
      quorumUp: false,
      failing: "a,b",
    },
    {
      name: "only self fails, peers pass",
      votes: "a:FAIL b:OK c:OK",
      rule: count(2),
      total: 3,
      verdict: "local-only",
      quorumUp: true,
      failing: "a",
    },
    {
      name: "unreachable never counts",
      votes: "a:FAIL b:UNREACHABLE c:UNREACHABLE",
      rule: count(2),
      total: 3,
      verdict: "unconfirmed",
      quorumUp: false,
      failing: "a",
    },
    {
      name: "unknown never counts",
      votes: "a:FAIL b:UNKNOWN c:UNKNOWN",
      rule: count(2),
      total: 3,
      verdict: "unconfirmed",
      quorumUp: false,
      failing: "a",
    },
    {
      name: "one peer passes, one silent",
      votes: "a:FAIL b:OK c:UNREACHABLE",
      rule: count(2),
      total: 3,
      verdict: "local-only",
      quorumUp: false,
      failing: "a",
    },
    {
      name: "self passes, quorum of peers fails",
      votes: "a:OK b:FAIL c:FAIL",
      rule: count(2),
      total: 3,
      verdict: "down",
      quorumUp: false,
      failing: "b,c",
    },
    {
      name: "self passes, one peer fails",
      votes: "a:OK b:FAIL c:OK",
      rule: count(2),
      total: 3,
      verdict: "up",
      quorumUp: true,
      failing: "b",
    },
    {
      name: "self passes, peers silent",
      votes: "a:OK b:UNREACHABLE c:UNREACHABLE",
      rule: count(2),
      total: 3,
      verdict: "up",
      quorumUp: false,
      failing: "",
    },
    {
      name: "50% of 4: 2 suffice",
      votes: "a:FAIL b:FAIL c:OK d:OK",
      rule: pct(50),
      total: 4,
      verdict: "down",
      quorumUp: false,
      failing: "a,b",
    },
    {
      name: "50% of 5: 2 do not",
      votes: "a:FAIL b:FAIL c:OK d:OK e:OK",
      rule: pct(50),
      total: 5,
      verdict: "local-only",
      quorumUp: true,
      failing: "a,b",
    },
    {
      name: "5 nodes, 2 fail, 2 pass, 1 silent",
      votes: "a:OK b:FAIL c:FAIL d:OK e:UNREACHABLE",
      rule: count(3),
      total: 5,
      verdict: "up",
      quorumUp: false,
      failing: "b,c",
    },
    {
      name: "single node fails",
      votes: "a:FAIL",
      rule: count(2),
      total: 1,
      verdict: "down",
      quorumUp: false,
      failing: "a",
    },
    {
      name: "single node passes",
      votes: "a:OK",
      rule: count(2),
      total: 1,
      verdict: "up",
      quorumUp: true,
      failing: "",
    },
    {
      name: "degraded self votes unknown",
      votes: "a:UNKNOWN b:UNREACHABLE",
      rule: count(2),
      total: 2,
      verdict: "up",
      quorumUp: false,
      failing: "",
    },
  ];
  for (const t of table) {
    const d = decideQuorum(votes(t.votes), t.rule, t.total, "a");
    assert.equal(d.verdict, t.verdict, t.name);
    assert.equal(d.quorumUp, t.quorumUp, t.name);
    assert.equal(d.failing.join(","), t.failing, t.name);
  }
});

Deno.test("isDegraded: no peer reachable and most checks failing", () => {
  const table: [number, number, number, number, boolean][] = [
    // peersTotal, peersReachable, checksTotal, checksFailing, want
    [2, 0, 10, 6, true],
    [2, 0, 10, 5, false], // half is not most
    [2, 1, 10, 10, false], // a peer answers: our uplink works
    [0, 0, 10, 10, false], // single-node mode is never degraded
    [2, 0, 0, 0, false],
  ];
  for (const [peersTotal, peersReachable, checksTotal, checksFailing, want] of table) {
    assert.equal(isDegraded({ peersTotal, peersReachable, checksTotal, checksFailing }), want);
  }
});

Deno.test("localVote: degraded failures vote UNKNOWN, passes stay OK", () => {
  const r = { status: "FAIL" as const, output: "refused", startedAt: 5 };
  assert.deepEqual(localVote("a", r, false), {
    node: "a",
    status: "FAIL",
    output: "refused",
    at: 5,
  });
  assert.equal(localVote("a", r, true).status, "UNKNOWN");
  assert.equal(localVote("a", { ...r, status: "OK" }, true).status, "OK");
});

Deno.test("compareNodes: code-unit order, independent of locale", () => {
  const names = ["node-b", "Node-a", "node-a", "node10", "node2", "ä"];
  assert.deepEqual([...names].sort(compareNodes), [
    "Node-a",
    "node-a",
    "node-b",
    "node10",
    "node2",
    "ä",
  ]);
});
