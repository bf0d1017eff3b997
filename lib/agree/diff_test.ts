import assert from "node:assert/strict";
import { describeDiff, diffEntries, renderDiff } from "./diff.ts";
import { digestOf, type Entry } from "./digest.ts";

const e = (key: string, fields: Record<string, string>): Entry => ({ key, fields });
const here = [
  e("(cluster)", { quorum: "2", nodes: "n1 n2 n3" }),
  e("10.0.0.1/ssh", { runs: "built-in ssh", interval: "30s", "param port": "22" }),
  e("10.0.0.1/tcp", { runs: "built-in tcp", interval: "30s", "param port": "80" }),
  e("10.0.0.2/ping", { runs: "built-in ping", interval: "30s" }),
];
const there = [
  e("(cluster)", { quorum: "3", nodes: "n1 n2 n3" }),
  e("10.0.0.1/ssh", { runs: "built-in ssh", interval: "30s", "param port": "22" }),
  e("10.0.0.1/tcp", { runs: "built-in tcp", interval: "1m", "param port": "8080", retries: "1" }),
  e("10.0.0.3/http", { runs: "built-in http", interval: "30s" }),
];

Deno.test("diffEntries: only here, only there, and each differing field", () => {
  assert.deepEqual(diffEntries(here, there), [
    { key: "(cluster)", change: "differs", fields: [{ field: "quorum", here: "2", there: "3" }] },
    {
      key: "10.0.0.1/tcp",
      change: "differs",
      fields: [
        { field: "interval", here: "30s", there: "1m" },
        { field: "param port", here: "80", there: "8080" },
        { field: "retries", here: null, there: "1" },
      ],
    },
    { key: "10.0.0.2/ping", change: "only-here", fields: [] },
    { key: "10.0.0.3/http", change: "only-there", fields: [] },
  ]);
  assert.deepEqual(diffEntries(here, here), []);
  assert.deepEqual(diffEntries([], []), []);
});

Deno.test("describeDiff: one line naming both nodes", () => {
  const [cluster, tcp, ping, http] = diffEntries(here, there);
  assert.equal(describeDiff(cluster!, "n1", "n2"), "(cluster): quorum: 2 on n1, 3 on n2");
  assert.equal(
    describeDiff(tcp!, "n1", "n2"),
    "10.0.0.1/tcp: interval: 30s on n1, 1m on n2; param port: 80 on n1, 8080 on n2; " +
      "retries: absent on n1, 1 on n2",
  );
  assert.equal(describeDiff(ping!, "n1", "n2"), "10.0.0.2/ping: only on n1");
  assert.equal(describeDiff(http!, "n1", "n2"), "10.0.0.3/http: only on n2");
});

Deno.test("renderDiff: exact text, with the fields of one-sided entries", () => {
  const a = { node: "n1", digest: digestOf(here), entries: here };
  const b = { node: "n2", digest: digestOf(there), entries: there };
  assert.equal(
    renderDiff(a, b),
    `n1 (this tree, digest ${a.digest}) and n2 (as it reports it, digest ${b.digest}) differ in 4 of 5 entries:
  (cluster): quorum: 2 on n1, 3 on n2
  10.0.0.1/tcp: interval: 30s on n1, 1m on n2; param port: 80 on n1, 8080 on n2; retries: absent on n1, 1 on n2
  10.0.0.2/ping: only on n1
      runs: built-in ping
      interval: 30s
  10.0.0.3/http: only on n2
      runs: built-in http
      interval: 30s
`,
  );
  assert.equal(
    renderDiff(a, { ...a, node: "n2" }),
    `n1 (this tree, digest ${a.digest}) and n2 (as it reports it, digest ${a.digest}) agree on all 4 entries\n`,
  );
});
