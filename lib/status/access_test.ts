import assert from "node:assert/strict";
import {
  addressBytes,
  cidrContains,
  isAllowed,
  loadStatusAccess,
  parseCidr,
  type StatusAccess,
} from "./access.ts";
import { parseStatusSettings } from "./settings.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { ConfigError } from "../errors/mod.ts";
import type { StatusSettings } from "./settings.ts";

Deno.test("addressBytes reads IPv4, IPv6, compressed and v4-embedded forms", () => {
  assert.deepEqual([...addressBytes("10.1.2.3")!], [10, 1, 2, 3]);
  assert.deepEqual([...addressBytes("::1")!], [...new Array(15).fill(0), 1]);
  assert.deepEqual([...addressBytes("2001:db8::ff00:42:8329")!], [
    0x20,
    0x01,
    0x0d,
    0xb8,
    0,
    0,
    0,
    0,
    0,
    0,
    0xff,
    0,
    0,
    0x42,
    0x83,
    0x29,
  ]);
  assert.deepEqual([...addressBytes("::ffff:127.0.0.1")!].slice(10), [0xff, 0xff, 127, 0, 0, 1]);
  assert.equal(addressBytes("localhost"), null);
  assert.equal(addressBytes("1.2.3"), null);
});

Deno.test("cidrContains: table", () => {
  const table: [string, string, boolean][] = [
    ["127.0.0.0/8", "127.0.0.1", true],
    ["127.0.0.0/8", "127.200.3.4", true],
    ["127.0.0.0/8", "128.0.0.1", false],
    ["127.0.0.0/8", "::ffff:127.0.0.5", true],
    ["::1/128", "::1", true],
    ["::1", "::2", false],
    ["192.0.2.0/24", "192.0.2.77", true],
    ["192.0.2.0/24", "192.0.3.1", false],
    ["192.0.2.128/25", "192.0.2.127", false],
    ["192.0.2.128/25", "192.0.2.200", true],
    ["0.0.0.0/0", "203.0.113.9", true],
    ["2001:db8::/32", "2001:db8:1::5", true],
    ["2001:db8::/32", "2001:db9::5", false],
    ["10.0.0.1", "10.0.0.1", true],
    ["10.0.0.1", "::1", false],
  ];
  for (const [net, ip, want] of table) {
    assert.equal(cidrContains(parseCidr(net)!, ip), want, `${net} ${ip}`);
  }
  for (const bad of ["10.0.0.0/33", "::/129", "foo", "10.0.0.0/8/1", "10.0.0.0/x", ""]) {
    assert.equal(parseCidr(bad), null, bad);
  }
});

Deno.test("isAllowed: loopback by default, others only with the token", () => {
  const a: StatusAccess = {
    settings: parseStatusSettings(undefined, []),
    token: "0123456789abcdef0123",
  };
  assert.equal(isAllowed(a, "127.0.0.1", null), true);
  assert.equal(isAllowed(a, "::1", null), true);
  assert.equal(isAllowed(a, "192.0.2.1", null), false);
  assert.equal(isAllowed(a, "192.0.2.1", "wrong"), false);
  assert.equal(isAllowed(a, "192.0.2.1", "0123456789abcdef0123"), true);
  assert.equal(isAllowed(a, null, null), false);
  const none: StatusAccess = { settings: parseStatusSettings({ allow: [] }, []), token: null };
  assert.equal(isAllowed(none, "127.0.0.1", null), false);
  assert.equal(isAllowed(none, "127.0.0.1", ""), false);
});

Deno.test("parseStatusSettings: defaults, values and every problem with file, key and value", () => {
  const d = parseStatusSettings(undefined, []);
  assert.deepEqual(d.allowText, ["127.0.0.0/8", "::1/128"]);
  assert.equal(d.refresh, 30_000);
  assert.equal(d.tokenFile, null);

  const ok = parseStatusSettings({
    allow: "192.0.2.0/24",
    token_file: "status.token",
    refresh: "1m",
  }, []);
  assert.deepEqual(ok.allowText, ["192.0.2.0/24"]);
  assert.equal(ok.tokenFile, "status.token");
  assert.equal(ok.refresh, 60_000);

  const problems: ConfigProblem[] = [];
  parseStatusSettings({
    allow: ["10.0.0.0/8", "nope", 7],
    token_file: 3,
    refresh: "1s",
    colour: "red",
  }, problems);
  assert.deepEqual(problems.map((p) => `${p.file}: '${p.key}' ${p.message}`), [
    `dmonitor.yaml: 'status.allow[1]' must be an address or network such as 192.0.2.0/24 or 2001:db8::/32, got "nope"`,
    `dmonitor.yaml: 'status.allow[2]' must be an address or network such as 192.0.2.0/24 or 2001:db8::/32, got 7`,
    `dmonitor.yaml: 'status.token_file' must be the path of a file holding the token, got 3`,
    `dmonitor.yaml: 'status.refresh' must be between 5s and 1h, got "1s"`,
    `dmonitor.yaml: 'status.colour' is not a known setting (known: allow, token_file, refresh)`,
  ]);
  const p2: ConfigProblem[] = [];
  parseStatusSettings("open", p2);
  assert.match(p2[0]!.message, /must be a mapping .* got "open"/);
  assert.equal(p2[0]!.key, "status");
});

function configWith(root: string, status: unknown): [StatusSettings, string] {
  const problems: ConfigProblem[] = [];
  const s = parseStatusSettings(status, problems);
  assert.deepEqual(problems, []);
  return [s, root];
}

Deno.test("loadStatusAccess reads the token file and refuses missing, short or readable ones", async () => {
  const root = await Deno.makeTempDir();
  await Deno.writeTextFile(`${root}/good.token`, "s3cret-s3cret-s3cret\n", { mode: 0o600 });
  await Deno.chmod(`${root}/good.token`, 0o600);
  const a = await loadStatusAccess(...configWith(root, { token_file: "good.token" }));
  assert.equal(a.token, "s3cret-s3cret-s3cret");

  await Deno.writeTextFile(`${root}/short.token`, "abc\n");
  await Deno.chmod(`${root}/short.token`, 0o600);
  await Deno.writeTextFile(`${root}/open.token`, "s3cret-s3cret-s3cret\n");
  await Deno.chmod(`${root}/open.token`, 0o644);
  for (
    const [file, re] of [
      [
        "missing.token",
        /'status.token_file' cannot be read \(no such file: .*missing.token\), got "missing.token"/,
      ],
      ["short.token", /at least 16 characters without spaces, got "short.token" \(3 characters\)/],
      [
        "open.token",
        /not readable by group or others \(chmod 600 .*\), got "open.token" with mode 0644/,
      ],
    ] as const
  ) {
    await assert.rejects(
      loadStatusAccess(...configWith(root, { token_file: file })),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, re);
        assert.match(e.message, /^dmonitor.yaml: /);
        return true;
      },
    );
  }
  await Deno.remove(root, { recursive: true });
});
