import assert from "node:assert/strict";
import type { Config, TestConfig } from "../config/types.ts";
import { CLUSTER_KEY, digestOf, redact, summarize, testEntry } from "./digest.ts";

const test = (over: Partial<TestConfig> = {}): TestConfig => ({
  host: "127.0.0.1",
  test: "ssh",
  file: "hosts.d/127.0.0.1/ssh",
  executor: { kind: "builtin", name: "ssh" },
  interval: 30_000,
  timeout: 10_000,
  retries: 0,
  warning: "pass",
  unknown: "fail",
  params: { port: 22 },
  ...over,
});

const config = (root: string, node: string, tests: TestConfig[], quorum = 2) =>
  ({
    root,
    settings: { node, quorum: { kind: "count", count: quorum } },
    peers: [],
    tests,
  }) as unknown as Config;

Deno.test("testEntry: the fields a person reads, a tree plugin relative to its root", () => {
  assert.deepEqual(testEntry(test(), "/etc/dmonitor"), {
    key: "127.0.0.1/ssh",
    fields: {
      runs: "built-in ssh",
      interval: "30s",
      timeout: "10s",
      retries: "0",
      warning: "pass",
      unknown: "fail",
      "param port": "22",
    },
  });
  const plugin = test({
    test: "disk",
    executor: { kind: "plugin", path: "/srv/tree/plugins/check_disk", args: ["-w", "10%"] },
    params: {},
  });
  const e = testEntry(plugin, "/srv/tree/");
  assert.equal(e.fields.runs, "plugin plugins/check_disk");
  assert.equal(e.fields.args, '["-w","10%"]');
  const outside = testEntry({
    ...plugin,
    executor: { kind: "plugin", path: "/usr/lib/x", args: null },
  }, "/srv/tree");
  assert.equal(outside.fields.runs, "plugin /usr/lib/x");
  assert.equal(outside.fields.args, undefined);
});

Deno.test("testEntry: secret parameters are a hash, never the value", () => {
  const e = testEntry(
    test({ test: "heartbeat", params: { token: "s3cret-token-0123456789", api_password: "pw" } }),
    "/",
  );
  assert.equal(e.fields["param token"], redact("s3cret-token-0123456789"));
  assert.match(e.fields["param token"]!, /^sha256:[0-9a-f]{12}$/);
  assert.ok(!JSON.stringify(e).includes("s3cret"));
  assert.equal(e.fields["param api_password"], redact("pw"));
});

Deno.test("summarize: equal trees in different roots on differently named nodes agree", () => {
  const a = summarize(config("/a", "n1", [test(), test({ test: "tcp" })]), ["n2", "n3"]);
  const b = summarize(config("/b/c", "n2", [test({ test: "tcp" }), test()]), ["n1", "n3"]);
  assert.equal(a.digest, b.digest);
  assert.match(a.digest, /^[0-9a-f]{16}$/);
  assert.deepEqual(a.entries.map((e) => e.key), [CLUSTER_KEY, "127.0.0.1/ssh", "127.0.0.1/tcp"]);
  assert.deepEqual(a.entries[0]!.fields, { quorum: "2", nodes: "n1 n2 n3" });
});

Deno.test("summarize: any difference that matters changes the digest", () => {
  const base = summarize(config("/a", "n1", [test()]), ["n2"]).digest;
  const changed = [
    summarize(config("/a", "n1", [test({ params: { port: 2222 } })]), ["n2"]),
    summarize(config("/a", "n1", [test({ interval: 60_000 })]), ["n2"]),
    summarize(config("/a", "n1", [test({ timeout: 5_000 })]), ["n2"]),
    summarize(config("/a", "n1", [test({ retries: 1 })]), ["n2"]),
    summarize(config("/a", "n1", [test({ warning: "fail" })]), ["n2"]),
    summarize(config("/a", "n1", [test()], 1), ["n2"]),
    summarize(config("/a", "n1", [test()]), ["n2", "n3"]),
    summarize(config("/a", "n1", [test(), test({ host: "h2" })]), ["n2"]),
    summarize(config("/a", "n1", []), ["n2"]),
  ].map((s) => s.digest);
  for (const d of changed) assert.notEqual(d, base);
  assert.equal(new Set(changed).size, changed.length);
});

Deno.test("digestOf: independent of entry and field order", () => {
  const x = { key: "a/b", fields: { one: "1", two: "2" } };
  const y = { key: "c/d", fields: { two: "2", one: "1" } };
  assert.equal(digestOf([x, y]), digestOf([{ key: "c/d", fields: { one: "1", two: "2" } }, x]));
  assert.notEqual(digestOf([x]), digestOf([{ key: "a/b", fields: { one: "1", two: "3" } }]));
});
