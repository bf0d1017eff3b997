import assert from "node:assert/strict";
import {
  formatDuration,
  parseDuration,
  parseEmail,
  parseHostName,
  parseHostPort,
} from "./values.ts";

Deno.test("parseDuration accepts units and bare seconds, enforces bounds", () => {
  const table: [unknown, number | null][] = [
    ["500ms", 500],
    ["30s", 30_000],
    ["1m30s", 90_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    [45, 45_000],
    [0.5, 500],
    ["30", null],
    ["-5s", null],
    ["5 s", null],
    [true, null],
    ["3d", null], // above the 1d bound below
  ];
  for (const [input, want] of table) {
    const r = parseDuration(input, 100, 86_400_000);
    assert.deepEqual(r.ok ? r.value : null, want, `input ${JSON.stringify(input)}`);
  }
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(250), "250ms");
});

Deno.test("parseHostName: DNS names and IP literals only", () => {
  const good = [
    "localhost",
    "www.example.com",
    "a-b.c",
    "10.0.0.1",
    "::1",
    "fe80::1",
    "2001:db8::8a2e:370:7334",
    "::ffff:10.1.2.3",
    "example.com.",
  ];
  const bad = [
    "",
    "-rf",
    "a..b",
    "../etc",
    "a/b",
    "a b",
    "999.1.1.1",
    "1.2.3",
    "a_b.example",
    "x".repeat(64) + ".com",
    "::1::2",
    "$(reboot)",
  ];
  for (const h of good) assert.ok(parseHostName(h).ok, h);
  for (const h of bad) assert.ok(!parseHostName(h).ok, h);
});

Deno.test("parseHostPort: host, host:port, [v6]:port, bare v6", () => {
  const ok = (s: string) => {
    const r = parseHostPort(s, 2929);
    return r.ok ? `${r.value.host}|${r.value.port}` : null;
  };
  assert.equal(ok("node-b"), "node-b|2929");
  assert.equal(ok("node-b:3000"), "node-b|3000");
  assert.equal(ok("[::1]:3000"), "::1|3000");
  assert.equal(ok("[::1]"), "::1|2929");
  assert.equal(ok("fe80::1"), "fe80::1|2929");
  assert.equal(ok(":2929"), "|2929");
  assert.equal(ok("node:0"), null);
  assert.equal(ok("node:http"), null);
  assert.equal(ok("[nothex]:1"), null);
});

Deno.test("parseEmail", () => {
  assert.ok(parseEmail("ops@example.com").ok);
  assert.ok(parseEmail("first.last+pager@mail.example.org").ok);
  for (
    const s of [
      "ops",
      "@example.com",
      "ops@",
      "a@b@c",
      ".x@example.com",
      "ops@-bad.com",
      "ops@example",
    ]
  ) {
    assert.ok(!parseEmail(s).ok, s);
  }
});
