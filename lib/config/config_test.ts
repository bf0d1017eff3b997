import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "../errors/mod.ts";
import { loadConfig, parseConfig } from "./mod.ts";
import type { BuiltinSpecs } from "./hosts.ts";
import type { BaseConfig, Config } from "./types.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import type { ParamSpec } from "../checks/types.ts";
import type { TreeEntry } from "./tree.ts";

const BUILTINS: BuiltinSpecs = new Map<string, { params: Record<string, ParamSpec> }>([
  ["ping", { params: {} }],
  ["tcp", { params: { port: { type: "port" as const, required: true, doc: "" } } }],
  ["ssh", { params: { port: { type: "port" as const, default: 22, doc: "" } } }],
  ["http", {
    params: {
      port: { type: "port" as const, default: 80, doc: "" },
      path: { type: "string" as const, default: "/", doc: "" },
      expect_status: { type: "int" as const, min: 100, max: 599, doc: "" },
    },
  }],
]);
const KEY = "0123456789abcdef0123456789abcdef";

/** Writes `files` (path -> content; content ending in "\x00x" makes it executable) into a temp tree. */
async function writeTree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-config-" });
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    if (path.endsWith("/")) {
      await Deno.mkdir(full, { recursive: true });
      continue;
    }
    await Deno.writeTextFile(full, content);
    await Deno.chmod(
      full,
      path.startsWith("plugins/") ? 0o755 : path === "peer.key" ? 0o600 : 0o644,
    );
  }
  return dir;
}

/** A section owned by "another part": `smtp:` handed over raw, its problems recorded. */
const SECTIONS = {
  smtp: {
    key: "smtp",
    parse: (raw: unknown, base: BaseConfig, problems: ConfigProblem[]) => {
      if (raw === "bad") problems.push({ file: "dmonitor.yaml", key: "smtp", message: "is bad" });
      return { raw, node: base.settings.node };
    },
  },
};

async function load(files: Record<string, string>): Promise<Config<{ smtp: unknown }>> {
  const dir = await writeTree(files);
  try {
    return await loadConfig(dir, { builtins: BUILTINS, hostname: "node-a", sections: SECTIONS });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function problemsOf(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.file}|${p.key}|${p.message}`);
    throw e;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("an original-style tree loads with defaults", async () => {
  const c = await load({
    "nodes.txt":
      "# peers\nnode-b\n\n10.0.0.3:2930 node-c\n[::1]:2931\n10.0.0.1 node-a # this node\n",
    "peer.key": KEY + "\n",
    "hosts.d/www.example.com/ssh": "",
    "hosts.d/www.example.com/http":
      "port: 8080\npath: /health\ninterval: 30s\ntimeout: 5s\nretries: 1\n",
    "hosts.d/10.0.0.9/custom": "threshold: 5\n",
    "plugins/check_custom": "#!/bin/sh\necho OK\n",
    "alert.d/ops@example.com": "",
    "alert.d/chat.webhook": "https://chat.example.com/hook\n",
  });
  assert.equal(c.settings.node, "node-a");
  assert.deepEqual(c.settings.listen, { hostname: "0.0.0.0", port: 2929 });
  assert.deepEqual(c.settings.quorum, { kind: "count", count: 2 });
  assert.equal(c.settings.singleNode, false);
  assert.deepEqual(
    c.peers.map((p) => [p.host, p.port, p.line, p.name ?? null, p.raw]),
    [
      ["node-b", 2929, 2, null, "node-b"],
      ["10.0.0.3", 2930, 4, "node-c", "10.0.0.3:2930"],
      ["::1", 2931, 5, null, "[::1]:2931"],
    ],
    "a line naming this node (by its node name) is skipped",
  );
  assert.equal(c.peerKey, KEY);
  const byName = Object.fromEntries(c.tests.map((t) => [`${t.host}/${t.test}`, t]));
  const ssh = byName["www.example.com/ssh"]!;
  assert.deepEqual(ssh.executor, { kind: "builtin", name: "ssh" });
  assert.deepEqual(ssh.params, { port: 22 });
  assert.equal(ssh.interval, 60_000);
  assert.equal(ssh.timeout, 10_000);
  const http = byName["www.example.com/http"]!;
  assert.deepEqual(http.params, { port: 8080, path: "/health" });
  assert.equal(http.interval, 30_000);
  assert.equal(http.timeout, 5_000);
  assert.equal(http.retries, 1);
  const custom = byName["10.0.0.9/custom"]!;
  assert.equal(custom.executor.kind, "plugin");
  assert.match((custom.executor as { path: string }).path, /plugins\/check_custom$/);
  assert.deepEqual(custom.params, { threshold: 5 });
  assert.deepEqual(c.recipients.map((r) => r.address), ["ops@example.com"]);
  assert.deepEqual(Object.keys(c.alertFiles), ["chat.webhook"]);
});

Deno.test("dmonitor.yaml settings are parsed with units and percentages", async () => {
  const c = await load({
    "dmonitor.yaml": [
      "node: alpha",
      "listen: 127.0.0.2:2929",
      "quorum: 50%",
      "interval: 1m30s",
      "timeout: 500ms",
      "state_dir: /tmp/x",
      "plugin_user: monitor",
      "concurrency: 4",
      "remind: 1h",
      "smtp: { host: mail }",
    ].join("\n"),
    "nodes.txt": "beta\ngamma\nalpha\n127.0.0.2\n",
  });
  const s = c.settings;
  assert.equal(s.node, "alpha");
  assert.deepEqual(s.listen, { hostname: "127.0.0.2", port: 2929 });
  assert.deepEqual(s.quorum, { kind: "percent", percent: 50 });
  assert.equal(s.interval, 90_000);
  assert.equal(s.timeout, 500);
  assert.equal(s.remind, 3_600_000);
  // The section parser saw its raw value and the parsed base (node name) in the same pass.
  assert.deepEqual(c.sections.smtp, { raw: { host: "mail" }, node: "alpha" });
  // "alpha" and "127.0.0.2" are this node itself and are dropped.
  assert.deepEqual(c.peers.map((p) => p.host), ["beta", "gamma"]);
});

Deno.test("no peers: single-node mode with quorum 1, unless quorum is set above 1", async () => {
  const c = await load({ "hosts.d/localhost/ping": "" });
  assert.equal(c.settings.singleNode, true);
  assert.deepEqual(c.settings.quorum, { kind: "count", count: 1 });
  const p = await problemsOf({ "dmonitor.yaml": "quorum: 2\n", "nodes.txt": "# nobody\n" });
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^dmonitor\.yaml\|quorum\|is 2 but nodes\.txt lists no peer/);
});

const BAD: { name: string; files: Record<string, string>; want: string[] }[] = [
  {
    name: "quorum above node count",
    files: { "dmonitor.yaml": "quorum: 4\n", "nodes.txt": "b\nc\n" },
    want: ["dmonitor.yaml|quorum|is 4 but only 3 nodes are configured"],
  },
  {
    name: "out-of-range port",
    files: { "hosts.d/www.example.com/ssh": "port: 99999\n" },
    want: ["hosts.d/www.example.com/ssh|port|must be 1-65535, got 99999"],
  },
  {
    name: "a host name that looks like an option",
    files: { "hosts.d/-rf/ping": "" },
    want: ['hosts.d/-rf||host name must be a DNS name or an IP address, got "-rf"'],
  },
  {
    name: "a test with no plugin and no built-in",
    files: { "hosts.d/a.example/nosuch": "" },
    want: ["hosts.d/a.example/nosuch||test 'nosuch' has no plugin (plugins/check_nosuch not found"],
  },
  {
    name: "unknown key in a built-in test and in dmonitor.yaml",
    files: { "hosts.d/a.example/ssh": "prot: 22\n", "dmonitor.yaml": "intervall: 5s\n" },
    want: [
      "dmonitor.yaml|intervall|is not a known setting",
      "hosts.d/a.example/ssh|prot|is not a parameter of the built-in 'ssh' check",
    ],
  },
  {
    name: "a section owner's problem comes in the same pass as the tree's",
    files: { "dmonitor.yaml": "smtp: bad\nretries: 99\n" },
    want: [
      "dmonitor.yaml|retries|must be from 0 to 10, got 99",
      "dmonitor.yaml|smtp|is bad",
    ],
  },
  {
    name: "wrong YAML types and bad durations",
    files: {
      "dmonitor.yaml": "interval: soon\nconcurrency: many\nquorum: 0\n",
      "hosts.d/a.example/ssh": "retries: -1\ntimeout: 2h\n",
    },
    want: [
      'dmonitor.yaml|interval|must be a duration like 30s, 5m or 1h, got "soon"',
      'dmonitor.yaml|concurrency|must be a whole number from 1 to 1024, got "many"',
      "dmonitor.yaml|quorum|must be a node count such as 2 or a percentage such as 50%, got 0",
      "hosts.d/a.example/ssh|retries|must be from 0 to 10, got -1",
      'hosts.d/a.example/ssh|timeout|must be between 100ms and 10m, got "2h"',
    ],
  },
  {
    name: "invalid YAML names the line",
    files: { "hosts.d/a.example/ssh": "port: 22\nport: 23\n" },
    want: ["hosts.d/a.example/ssh|line 2|is not valid YAML"],
  },
  {
    name: "required built-in parameter missing",
    files: { "hosts.d/a.example/tcp": "" },
    want: ["hosts.d/a.example/tcp|port|is required by the built-in 'tcp' check"],
  },
  {
    name: "bad nodes.txt lines",
    files: { "nodes.txt": "good\nbad host x\nx:99999\ngood\n10.0.0.7 -x\n10.0.0.8 good\n" },
    want: [
      'nodes.txt|line 2|must hold one peer per line (host, host:port or [v6]:port, then optionally its node name), got "bad host x"',
      'nodes.txt|line 3|port must be 1-65535, got "x:99999"',
      'nodes.txt|line 4|repeats the peer on line 1, got "good"',
      'nodes.txt|line 5|must hold one peer per line (host, host:port or [v6]:port, then optionally its node name), got "10.0.0.7 -x"',
      'nodes.txt|line 6|names node "good" like line 1; node names must be unique',
    ],
  },
  {
    name: "bad alert.d entries",
    // An address file's contents are a route, parsed (and refused) by lib/alerts/settings.ts.
    files: { "alert.d/not-an-address": "", "alert.d/ops@example.com": "hello\n" },
    want: [
      'alert.d/not-an-address||file name is not an email address, got "not-an-address"',
    ],
  },
  {
    name: "short peer key",
    files: { "peer.key": "short\n" },
    want: ["peer.key||must hold one key of at least 32 characters"],
  },
  {
    name: "plugin path that is relative, and args on a built-in",
    files: {
      "hosts.d/a.example/x": "plugin: check_tcp\n",
      "hosts.d/a.example/ssh": 'args: ["-p", 22]\n',
    },
    want: [
      "hosts.d/a.example/ssh|args|only applies to plugins",
      'hosts.d/a.example/x|plugin|must be an absolute path to an executable, got "check_tcp"',
    ],
  },
  {
    name: "explicit plugin that does not exist",
    files: {
      "hosts.d/a.example/tcp_n": 'plugin: /nonexistent/check_tcp\nargs: ["-H", "{host}"]\n',
    },
    want: ['hosts.d/a.example/tcp_n|plugin|does not exist, got "/nonexistent/check_tcp"'],
  },
  {
    name: "timeout above interval",
    files: { "hosts.d/a.example/ssh": "interval: 5s\ntimeout: 10s\n" },
    want: ["hosts.d/a.example/ssh|timeout|must not exceed the interval (5s), got 10s"],
  },
  {
    name: "dmonitor.yaml timeout above its interval: one problem, where it was written",
    files: {
      "dmonitor.yaml": "interval: 2s\ntimeout: 5s\n",
      "hosts.d/a.example/ssh": "",
      "hosts.d/b.example/ssh": "",
    },
    want: ["dmonitor.yaml|timeout|must not exceed the interval (2s), got 5s"],
  },
  {
    name: "dmonitor.yaml timeout above a test's own interval names dmonitor.yaml",
    files: {
      "dmonitor.yaml": "timeout: 5s\n",
      "hosts.d/a.example/ssh": "interval: 2s\n",
    },
    want: [
      "hosts.d/a.example/ssh|timeout|must not exceed the interval (2s), got 5s (inherited from dmonitor.yaml)",
    ],
  },
];

Deno.test("timeout defaults to the smaller of 10 s and the interval", async () => {
  const c = await load({
    "dmonitor.yaml": "interval: 2s\n",
    "hosts.d/a.example/ssh": "",
    "hosts.d/a.example/http": "interval: 30s\n",
    "hosts.d/b.example/ssh": "interval: 1s\n",
    "hosts.d/b.example/tcp": "interval: 5s\ntimeout: 4s\nport: 25\n",
  });
  const by = Object.fromEntries(c.tests.map((t) => [`${t.host} ${t.test}`, t.timeout]));
  assert.deepEqual(by, {
    "a.example http": 10_000,
    "a.example ssh": 2_000,
    "b.example tcp": 4_000,
    "b.example ssh": 1_000,
  });
  assert.equal(c.settings.timeout, 2_000);
});

for (const c of BAD) {
  Deno.test(`config error: ${c.name}`, async () => {
    const got = (await problemsOf(c.files)).sort();
    assert.equal(got.length, c.want.length, `got:\n${got.join("\n")}`);
    [...c.want].sort().forEach((w, i) =>
      assert.ok(got[i]!.startsWith(w), `want ${w}\ngot  ${got[i]}`)
    );
  });
}

Deno.test("a world-readable peer.key is refused", async () => {
  const dir = await writeTree({ "peer.key": KEY });
  await Deno.chmod(join(dir, "peer.key"), 0o644);
  await assert.rejects(
    () => loadConfig(dir, { builtins: BUILTINS, hostname: "h" }),
    (e: ConfigError) =>
      /peer\.key: must not be readable by group or others \(chmod 600 peer\.key\), mode is 0644/
        .test(e.message),
  );
});

Deno.test("a missing config directory is one clear problem", async () => {
  await assert.rejects(
    () => loadConfig("/nonexistent/dmonitor", { builtins: BUILTINS, hostname: "h" }),
    /\/nonexistent\/dmonitor: cannot read the configuration directory: does not exist/,
  );
});

Deno.test("parseConfig is pure: works on in-memory files", () => {
  const c = parseConfig({
    root: "/etc/dmonitor",
    entries: ([
      { path: "hosts.d", kind: "dir", content: null, mode: 0o755, uid: 0, size: 0 },
      { path: "hosts.d/db.example", kind: "dir", content: null, mode: 0o755, uid: 0, size: 0 },
      { path: "hosts.d/db.example/ping", kind: "file", content: "", mode: 0o644, uid: 0, size: 0 },
      {
        path: "hosts.d/db.example/.ping.swp",
        kind: "file",
        content: "x",
        mode: 0o644,
        uid: 0,
        size: 1,
      },
    ] as TreeEntry[]).filter((e) => !e.path.includes(".swp")),
  }, { builtins: BUILTINS, hostname: "n" });
  assert.deepEqual(c.tests.map((t) => `${t.host}/${t.test}`), ["db.example/ping"]);
});
