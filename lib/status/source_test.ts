import assert from "node:assert/strict";
import { StateStore } from "../store/mod.ts";
import type { Config } from "../config/types.ts";
import { buildStoreView } from "./source.ts";

function config(): Config {
  const test = (host: string, t: string) => ({ host, test: t, interval: 30_000 });
  return {
    root: "/etc/dmonitor",
    settings: { node: "alpha", singleNode: false, quorum: { kind: "percent", percent: 50 } },
    peers: [{ host: "10.0.0.2", port: 2929, raw: "10.0.0.2", line: 1 }, {
      host: "2001:db8::2",
      port: 29,
      raw: "",
      line: 2,
    }],
    tests: [test("b.example", "tcp"), test("a.example", "ping")],
  } as unknown as Config;
}

Deno.test("buildStoreView joins configured checks with stored results; peers from nodes.txt", () => {
  using store = StateStore.open(":memory:");
  store.record({
    host: "b.example",
    test: "tcp",
    status: "FAIL",
    state: "FAIL",
    output: "refused",
    perfdata: "",
    exitCode: null,
    startedAt: 1000,
    durationMs: 12,
  });
  // A result for a test no longer configured is not shown.
  store.record({
    host: "gone.example",
    test: "tcp",
    status: "OK",
    state: "OK",
    output: "",
    perfdata: "",
    exitCode: null,
    startedAt: 1000,
    durationMs: 1,
  });
  const v = buildStoreView(config(), store.lastAll(), {
    version: "9.9.9",
    startedAt: 500,
    now: 5000,
  });
  assert.equal(v.node, "alpha");
  assert.equal(v.mode, "cluster");
  assert.equal(v.quorum, "50%");
  assert.equal(v.generatedAt, 5000);
  assert.deepEqual(
    v.checks.map((c) => [c.host, c.test, c.status, c.output, c.since, c.lastRun, c.durationMs]),
    [
      ["a.example", "ping", "PENDING", "", null, null, null],
      ["b.example", "tcp", "FAIL", "refused", 1000, 1000, 12],
    ],
  );
  assert.deepEqual(v.peers.map((p) => [p.address, p.reachable]), [["10.0.0.2:2929", null], [
    "[2001:db8::2]:29",
    null,
  ]]);
  assert.deepEqual([v.incidents, v.history, v.sites, v.outbox], [[], [], [], null]);
});
