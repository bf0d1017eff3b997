import assert from "node:assert/strict";
import { BUILTIN_CHECKS } from "./mod.ts";
import { ctxFor, drain, PROMPT_MS, startDnsServer, startTcpServer } from "./testing.ts";

Deno.test("BUILTIN_CHECKS: the nine checks, keyed by name, each documented", () => {
  assert.deepEqual([...BUILTIN_CHECKS.keys()].sort(), [
    "dns",
    "heartbeat",
    "http",
    "https",
    "ping",
    "smtp",
    "ssh",
    "tcp",
    "tls",
  ]);
  const jsType = {
    port: "number",
    int: "number",
    string: "string",
    bool: "boolean",
    duration: "number",
  } as const;
  for (const [name, check] of BUILTIN_CHECKS) {
    assert.equal(check.name, name);
    assert.ok(check.doc.length > 10, `${name} has a doc line`);
    for (const [key, spec] of Object.entries(check.params)) {
      assert.ok(spec.doc.length > 5, `${name}.${key} has a doc line`);
      if (spec.default !== undefined) {
        assert.equal(typeof spec.default, jsType[spec.type], `${name}.${key} default type`);
      }
      assert.ok(
        !(spec.required && spec.default !== undefined),
        `${name}.${key}: required or default`,
      );
    }
  }
});

Deno.test("every network check ends promptly on abort against a peer that never answers", async () => {
  await using silent = startTcpServer(drain);
  await using ns = await startDnsServer({}, { silent: true });
  const cases: [string, string, Record<string, string | number>][] = [
    ["ssh", "127.0.0.1", { port: silent.port }],
    ["smtp", "127.0.0.1", { port: silent.port }],
    ["http", "127.0.0.1", { port: silent.port }],
    ["https", "127.0.0.1", { port: silent.port }],
    ["tls", "127.0.0.1", { port: silent.port }],
    ["dns", "www.test", { server: `127.0.0.1:${ns.port}` }],
  ];
  for (const [name, host, params] of cases) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 150); // a shutdown, not a timeout
    const t0 = performance.now();
    const out = await BUILTIN_CHECKS.get(name)!.run(ctxFor(host, params, { signal: ctl.signal }));
    clearTimeout(timer);
    const ms = performance.now() - t0;
    assert.ok(ms < PROMPT_MS, `${name} took ${ms} ms after the abort`);
    assert.equal(out.status, "FAIL", name);
    assert.match(out.output, /^aborted /, `${name}: ${out.output}`);
  }
});

Deno.test("no check throws on parameters of the wrong type", async () => {
  for (const [name, check] of BUILTIN_CHECKS) {
    const params = Object.fromEntries(
      Object.entries(check.params).map(([k, s]) => [k, s.type === "string" ? 7 : "garbage"]),
    );
    const out = await check.run(ctxFor("127.0.0.1", params));
    assert.equal(out.status, "FAIL", name);
    // The stand-in heartbeat never reads its parameters: only a running node judges pushes.
    if (name === "heartbeat") {
      assert.match(out.output, /judged by the running node/);
      continue;
    }
    assert.match(
      out.output,
      new RegExp(`^${name}: parameter '\\w+' must be`),
      `${name}: ${out.output}`,
    );
  }
});
