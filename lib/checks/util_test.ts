import assert from "node:assert/strict";
import {
  abortText,
  errorText,
  fmtMs,
  hostPort,
  ipVersion,
  oneLine,
  Params,
  quote,
} from "./util.ts";
import { ctxFor } from "./testing.ts";

Deno.test("errorText: strips Deno's wrappers and maps node error codes", () => {
  const refused = new Deno.errors.ConnectionRefused("Connection refused (os error 111)");
  assert.equal(errorText(refused), "Connection refused");
  const fetchErr = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request from 127.0.0.1:5 for http://127.0.0.1:1/ (127.0.0.1:1): client error (Connect): tcp connect error: Connection refused (os error 111)",
    ),
  });
  assert.equal(errorText(fetchErr), "tcp connect error: Connection refused");
  const nodeErr = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
    code: "ECONNREFUSED",
  });
  assert.equal(errorText(nodeErr), "Connection refused");
  assert.equal(errorText("plain\nstring"), "plain string");
  assert.equal(errorText(new Error("")), "Error");
});

Deno.test("abortText: timeouts say so, other aborts do not pretend to be timeouts", () => {
  const timeout = AbortSignal.abort(new DOMException("x", "TimeoutError"));
  assert.equal(
    abortText(ctxFor("h", {}, { signal: timeout, timeoutMs: 1500 })),
    "timed out after 1500 ms",
  );
  assert.equal(abortText(ctxFor("h", {}, { signal: AbortSignal.abort() })), "aborted");
});

Deno.test("formatting helpers", () => {
  assert.equal(hostPort("192.0.2.1", 22), "192.0.2.1:22");
  assert.equal(hostPort("2001:db8::1", 22), "[2001:db8::1]:22");
  assert.equal(hostPort("www.example.com", 443), "www.example.com:443");
  assert.equal(fmtMs(0.42), "0.4 ms");
  assert.equal(fmtMs(12.6), "13 ms");
  assert.equal(oneLine("a\r\n\tb  c "), "a b c");
  assert.equal(quote('say "hi"'), '"say \\"hi\\""');
  assert.equal(quote("x".repeat(100), 5), '"xxxxx..."');
});

Deno.test("Params: values win over defaults; wrong types throw clear errors", () => {
  const p = new Params({ port: 2222, name: "x", flag: true }, {
    port: { type: "port", default: 22, doc: "" },
    count: { type: "int", default: 3, doc: "" },
    name: { type: "string", doc: "" },
    flag: { type: "bool", default: false, doc: "" },
  });
  assert.equal(p.int("port"), 2222);
  assert.equal(p.int("count"), 3);
  assert.equal(p.optInt("missing"), undefined);
  assert.equal(p.str("name"), "x");
  assert.equal(p.str("missing"), undefined);
  assert.equal(p.bool("flag"), true);
  assert.equal(p.bool("missing"), false);
  assert.throws(() => p.int("missing"), /parameter 'missing' is required/);
  assert.throws(() => p.str("port"), /parameter 'port' must be a string, got 2222/);
  assert.throws(() => p.bool("name"), /parameter 'name' must be true or false, got "x"/);
});

Deno.test("ipVersion: the same answer as node:net's isIP", async () => {
  const { isIP } = await import("node:net");
  const cases = [
    "192.0.2.1",
    "0.0.0.0",
    "255.255.255.255",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.4 ",
    "::",
    "::1",
    "1::",
    "2001:db8::1",
    "2001:db8:0:0:0:0:0:1",
    "2001:db8:0:0:0:0:0:0:1",
    "1:2:3:4:5:6:7::",
    "::ffff:192.0.2.1",
    "::ffff:192.0.2.256",
    "fe80::1%eth0",
    "fe80::1%",
    "1:::2",
    ":1",
    "1:",
    "12345::",
    "g::1",
    "db1.example.com",
    "localhost",
    "",
    "[::1]",
    "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
  ]; // deno-fmt-ignore
  for (const s of cases) assert.equal(ipVersion(s), isIP(s), JSON.stringify(s));
});
