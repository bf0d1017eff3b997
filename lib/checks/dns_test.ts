import assert from "node:assert/strict";
import { canonicalIP, dns, parseServer } from "./dns.ts";
import { ctxFor, PROMPT_MS, startDnsServer } from "./testing.ts";

const ZONE = {
  "www.test.": { A: ["192.0.2.10", "192.0.2.11"], AAAA: ["2001:db8::10"] },
  "v4only.test.": { A: ["192.0.2.20"] },
  "many.test.": {
    A: ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"],
  },
  "empty.test.": {},
};

Deno.test("parseServer: ip, ip:port, v6, [v6]:port; rejects names and bad ports", () => {
  assert.deepEqual(parseServer("192.0.2.1"), { ipAddr: "192.0.2.1", port: 53 });
  assert.deepEqual(parseServer("127.0.0.1:5353"), { ipAddr: "127.0.0.1", port: 5353 });
  assert.deepEqual(parseServer("2001:db8::1"), { ipAddr: "2001:db8::1", port: 53 });
  assert.deepEqual(parseServer("[::1]:5353"), { ipAddr: "::1", port: 5353 });
  for (const bad of ["ns1.example.com", "127.0.0.1:0", "127.0.0.1:70000", "[::1]:x", ""]) {
    assert.equal(parseServer(bad), null, bad);
  }
});

Deno.test("canonicalIP: equal IPv6 spellings compare equal", () => {
  assert.equal(canonicalIP("2001:DB8:0:0::10"), "2001:db8::10");
  assert.equal(canonicalIP("192.0.2.1"), "192.0.2.1");
});

Deno.test("dns: OK listing A and AAAA answers from the given server", async () => {
  await using ns = await startDnsServer(ZONE);
  const server = `127.0.0.1:${ns.port}`;
  const out = await dns.run(ctxFor("www.test", { server }));
  assert.equal(out.status, "OK", out.output);
  assert.match(
    out.output,
    new RegExp(
      `^www\\.test resolves to 192\\.0\\.2\\.10, 192\\.0\\.2\\.11, 2001:db8::10 via ${server} in [\\d.]+ ms$`,
    ),
  );
  assert.deepEqual(ns.queries.toSorted(), ["www.test. A", "www.test. AAAA"]);
});

Deno.test("dns: one family is enough; long answer lists are shortened", async () => {
  await using ns = await startDnsServer(ZONE);
  const server = `127.0.0.1:${ns.port}`;
  const v4 = await dns.run(ctxFor("v4only.test", { server }));
  assert.equal(v4.status, "OK", v4.output);
  const many = await dns.run(ctxFor("many.test", { server }));
  assert.match(
    many.output,
    /^many\.test resolves to 192\.0\.2\.1, 192\.0\.2\.2, 192\.0\.2\.3, 192\.0\.2\.4 and 2 more via /,
  );
});

Deno.test("dns: expect must be among the answers (IPv6 compared canonically)", async () => {
  await using ns = await startDnsServer(ZONE);
  const server = `127.0.0.1:${ns.port}`;
  const yes = await dns.run(ctxFor("www.test", { server, expect: "2001:DB8:0::10" }));
  assert.equal(yes.status, "OK", yes.output);
  const no = await dns.run(ctxFor("www.test", { server, expect: "192.0.2.99" }));
  assert.equal(no.status, "FAIL");
  assert.match(
    no.output,
    /^www\.test resolves to .* in [\d.]+ ms, not to the expected 192\.0\.2\.99$/,
  );
});

Deno.test("dns: NXDOMAIN and empty answers FAIL plainly", async () => {
  await using ns = await startDnsServer(ZONE);
  const server = `127.0.0.1:${ns.port}`;
  for (const host of ["nope.test", "empty.test"]) {
    const out = await dns.run(ctxFor(host, { server }));
    assert.equal(out.status, "FAIL");
    assert.equal(out.output, `cannot resolve ${host} via ${server}: no A or AAAA records`);
  }
});

Deno.test("dns: an IP literal host and a malformed server FAIL without querying", async () => {
  assert.deepEqual(await dns.run(ctxFor("127.0.0.1", {})), {
    status: "FAIL",
    output: "127.0.0.1 is an IP address; there is no name to resolve",
  });
  assert.deepEqual(await dns.run(ctxFor("www.test", { server: "ns1.test" })), {
    status: "FAIL",
    output: `dns: parameter 'server' must be ip or ip:port, got "ns1.test"`,
  });
});

Deno.test("dns: a server that never answers ends when the signal aborts", async () => {
  await using ns = await startDnsServer(ZONE, { silent: true });
  const server = `127.0.0.1:${ns.port}`;
  const t0 = performance.now();
  const out = await dns.run(ctxFor("www.test", { server }, { timeoutMs: 300 }));
  assert.ok(performance.now() - t0 < PROMPT_MS);
  assert.equal(out.status, "FAIL");
  assert.equal(out.output, `timed out after 300 ms resolving www.test via ${server}`);
  assert.ok(ns.queries.length >= 1, "the query reached the silent server");
});
