import assert from "node:assert/strict";
import { chooseSpawn, type PluginSpec, type RunDeps, runPlugin, type SpawnPath } from "./run.ts";
import { posixSpawnUnavailable } from "./spawn.ts";
import type { CheckResult } from "./result.ts";
import { isAlive, type PluginFixture, pluginFixture, readPids, sessionMembers } from "./testing.ts";

const TIMEOUT = 1000;
const isRoot = Deno.uid() === 0;

function spec(fx: PluginFixture, name: string, extra: Partial<PluginSpec> = {}): PluginSpec {
  return { host: "db1.example.com", test: name, path: fx.path(name), timeoutMs: TIMEOUT, ...extra };
}

/** Runs and also measures from the caller's side, so the bound includes all cleanup. */
async function timed(s: PluginSpec, deps?: RunDeps): Promise<[CheckResult, number]> {
  const t0 = performance.now();
  const r = await runPlugin(s, deps);
  return [r, performance.now() - t0];
}

/** Asserts that every pid the plugin recorded, and its whole session, is gone. */
async function assertNothingLeft(pidFile: string): Promise<void> {
  const pids = await readPids(pidFile);
  assert.ok(pids.length >= 2, `plugin recorded its pids: ${pids}`);
  for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} still running`);
  assert.deepEqual(sessionMembers(pids[0]!), [], "plugin's session is empty");
}

Deno.test("runPlugin: dmonitor OK drops the keyword from the output", async () => {
  await using fx = await pluginFixture();
  const r = await runPlugin(spec(fx, "check_ok"));
  assert.equal(r.status, "OK");
  assert.equal(r.state, "OK");
  assert.equal(r.output, "all good");
  assert.equal(r.exitCode, 0);
  assert.equal(r.host, "db1.example.com");
  assert.equal(r.test, "check_ok");
  assert.ok(r.durationMs >= 0 && r.durationMs < TIMEOUT);
});

Deno.test("runPlugin: dmonitor FAIL wins over exit code 0 and keeps later lines", async () => {
  await using fx = await pluginFixture();
  const r = await runPlugin(spec(fx, "check_fail"));
  assert.deepEqual([r.status, r.state, r.exitCode], ["FAIL", "FAIL", 0]);
  assert.equal(r.output, "disk /var is full / second line of detail");
});

Deno.test("runPlugin: Nagios WARNING passes by default, fails with warning: fail", async () => {
  await using fx = await pluginFixture();
  const r = await runPlugin(spec(fx, "check_nagios_warning"));
  assert.deepEqual([r.status, r.state, r.exitCode], ["OK", "WARNING", 1]);
  assert.equal(r.output, "LOAD WARNING - load average 5.10");
  assert.equal(r.perfdata, "load1=5.10;4;8;0");
  const strict = await runPlugin(spec(fx, "check_nagios_warning", { warning: "fail" }));
  assert.deepEqual([strict.status, strict.state], ["FAIL", "WARNING"]);
});

Deno.test("runPlugin: Nagios long output and multi-line perfdata", async () => {
  await using fx = await pluginFixture();
  const r = await runPlugin(spec(fx, "check_perfdata"));
  assert.deepEqual([r.status, r.state], ["OK", "OK"]);
  assert.equal(
    r.output,
    "DISK OK - free space: / 3326 MB (56%); / / 15272 MB (77%); / /boot 68 MB (69%);",
  );
  assert.equal(
    r.perfdata,
    "/=2643MB;5948;5958;0;5968 /boot=68MB;88;93;0;98 /home=69357MB;253404;253409;0;253414",
  );
});

Deno.test("runPlugin: exit code 3 is UNKNOWN, failing unless unknown: pass", async () => {
  await using fx = await pluginFixture();
  const [r, ms] = await timed(spec(fx, "check_unknown"));
  assert.deepEqual([r.status, r.state, r.exitCode], ["FAIL", "UNKNOWN", 3]);
  assert.equal(r.output, "UNKNOWN - cannot parse the reply");
  assert.ok(ms < TIMEOUT + 1000);
  const lenient = await runPlugin(spec(fx, "check_unknown", { unknown: "pass" }));
  assert.deepEqual([lenient.status, lenient.state], ["OK", "UNKNOWN"]);
});

Deno.test("runPlugin: no output at all with exit 0 is OK", async () => {
  await using fx = await pluginFixture();
  const [r, ms] = await timed(spec(fx, "check_silent"));
  assert.deepEqual([r.status, r.state, r.output, r.perfdata, r.exitCode], ["OK", "OK", "", "", 0]);
  assert.ok(ms < TIMEOUT + 1000);
});

Deno.test("runPlugin: stderr explains a failure when stdout is empty", async () => {
  await using fx = await pluginFixture();
  const r = await runPlugin(spec(fx, "check_stderr"));
  assert.deepEqual([r.status, r.state], ["FAIL", "CRITICAL"]);
  assert.equal(r.output, "connect to port 5432 refused");
});

/** Live processes among `pids`, after the run has returned. */
const survivors = (pids: number[]) => pids.filter(isAlive);

// The hostile plugins through every way the runner can start one. As root the posix_spawn and
// detached ways switch to nobody; setsid, and the no-switch posix_spawn, run with `user: null`.
interface Way {
  name: string;
  path: SpawnPath;
  extra: Partial<PluginSpec>;
}
const NO_SWITCH: Partial<PluginSpec> = isRoot ? { user: null } : {};
const WAYS: Way[] = [
  { name: isRoot ? "posix_spawn as nobody" : "posix_spawn", path: "posix_spawn", extra: {} },
  ...(isRoot
    ? [{ name: "posix_spawn as root", path: "posix_spawn", extra: NO_SWITCH } as Way]
    : []),
  { name: "setsid program", path: "setsid", extra: NO_SWITCH },
  { name: "Deno detached", path: "detached", extra: {} },
];
const wspec = (way: Way, fx: PluginFixture, name: string, extra: Partial<PluginSpec> = {}) =>
  spec(fx, name, { ...way.extra, ...extra });
const runWay = (way: Way, s: PluginSpec) => runPlugin(s, { spawn: way.path });
const timedWay = (way: Way, s: PluginSpec) => timed(s, { spawn: way.path });
/** The way is really taken here, not silently replaced by a fallback. */
function assertWay(way: Way): void {
  const runAs = isRoot && way.extra.user !== null ? { uid: 65534, gid: 65534 } : null;
  assert.equal(chooseSpawn(runAs, way.path), way.path, posixSpawnUnavailable());
}

for (const way of WAYS) {
  Deno.test(`runPlugin [${way.name}]: binary garbage becomes one printable line of at most 1 KiB`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const [r, ms] = await timedWay(way, wspec(way, fx, "check_garbage"));
    assert.deepEqual([r.status, r.state, r.exitCode], ["FAIL", "CRITICAL", 2]);
    assert.match(r.output, /^\?ELF\?\[31mred\?\[0m\? \/ \?txt \?garbage\?garbage\?/);
    assert.doesNotMatch(r.output, /[\p{C}\ufffd]/u);
    assert.ok(new TextEncoder().encode(r.output).length <= 1024);
    assert.ok(ms < TIMEOUT + 1000);
  });

  Deno.test(`runPlugin [${way.name}]: 10 MB of output is drained, not kept, and does not block`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const [r, ms] = await timedWay(way, wspec(way, fx, "check_10mb", { timeoutMs: 5000 }));
    // Exit 0 rather than TIMEOUT proves every byte was read: a full pipe would have blocked it.
    assert.deepEqual([r.status, r.state, r.exitCode], ["OK", "OK", 0]);
    assert.match(r.output, /^big output follows \/ y{50}/);
    assert.ok(r.output.endsWith("..."));
    assert.ok(new TextEncoder().encode(r.output).length <= 1024);
    assert.ok(ms < 5000 + 1000);
  });

  Deno.test(`runPlugin [${way.name}]: a hanging plugin times out and its whole group is killed`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const pidFile = fx.pidFile();
    const [r, ms] = await timedWay(
      way,
      wspec(way, fx, "check_hang", { params: { pidfile: pidFile } }),
    );
    assert.deepEqual([r.status, r.state, r.exitCode], ["TIMEOUT", "TIMEOUT", null]);
    assert.equal(r.output, `timed out after ${TIMEOUT} ms`);
    assert.ok(ms >= TIMEOUT && ms < TIMEOUT + 1000, `took ${ms} ms`);
    await assertNothingLeft(pidFile);
  });

  Deno.test(`runPlugin [${way.name}]: a plugin ignoring SIGTERM is SIGKILLed within timeout + 1 s`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const pidFile = fx.pidFile();
    const [r, ms] = await timedWay(
      way,
      wspec(way, fx, "check_ignore_term", { params: { pidfile: pidFile } }),
    );
    assert.deepEqual([r.status, r.state, r.exitCode], ["TIMEOUT", "TIMEOUT", null]);
    assert.equal(r.output, `timed out after ${TIMEOUT} ms; output so far: starting slow work`);
    assert.ok(ms >= TIMEOUT && ms < TIMEOUT + 1000, `took ${ms} ms`);
    await assertNothingLeft(pidFile);
  });

  Deno.test(`runPlugin [${way.name}]: a child holding stdout neither delays the result nor survives`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const pidFile = fx.pidFile();
    const [r, ms] = await timedWay(
      way,
      wspec(way, fx, "check_fork_holds_stdout", { params: { pidfile: pidFile } }),
    );
    assert.deepEqual([r.status, r.state, r.output, r.exitCode], ["OK", "OK", "forked", 0]);
    // Well under the timeout: only the pipe grace (200 ms) is waited for.
    assert.ok(ms < TIMEOUT, `took ${ms} ms`);
    await assertNothingLeft(pidFile);
  });

  Deno.test(`runPlugin [${way.name}]: a background child without stdout is killed after the run`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const pidFile = fx.pidFile();
    const r = await runWay(
      way,
      wspec(way, fx, "check_detached_child", { params: { pidfile: pidFile } }),
    );
    assert.deepEqual([r.status, r.output], ["OK", "left a child"]);
    await assertNothingLeft(pidFile);
  });

  Deno.test(`runPlugin [${way.name}]: a child escaping with setsid neither holds the run nor survives it`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const pidFile = fx.pidFile();
    const [r, ms] = await timedWay(
      way,
      wspec(way, fx, "check_escape_session", { params: { pidfile: pidFile } }),
    );
    const [escaped] = await readPids(pidFile);
    try {
      assert.deepEqual([r.status, r.output], ["OK", "escaped"]);
      assert.ok(ms < TIMEOUT, `took ${ms} ms`);
      assert.ok(escaped, "the plugin recorded its escaped child");
      assert.deepEqual(survivors([escaped]), [], "the setsid child was ended with the run");
      assert.deepEqual(sessionMembers(escaped), [], "nothing is left in its session");
    } finally {
      if (escaped && isAlive(escaped)) Deno.kill(escaped, "SIGKILL");
    }
  });

  Deno.test(`runPlugin [${way.name}]: sweeps for escaped children while others start never take a new plugin for a stray`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    // Each escaping run ends with a sweep of dmonitor's children; the plain runs start meanwhile
    // (on the pool, for posix_spawn without a user switch), so a sweep sees children not yet
    // tracked: none of them may be killed.
    const pidFiles: string[] = [];
    const results: CheckResult[] = [];
    let next = 0;
    // 16 at a time, as the runner's limiter does: new spawns keep starting while runs end.
    const worker = async () => {
      for (let i = next++; i < 240; i = next++) {
        if (i % 6 !== 0) {
          results.push(await runWay(way, wspec(way, fx, "check_ok")));
          continue;
        }
        const pidfile = fx.pidFile();
        pidFiles.push(pidfile);
        const s = wspec(way, fx, "check_escape_session", { params: { pidfile } });
        results.push(await runWay(way, s));
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    // A plugin killed as a stray may not have written its pid file.
    const escaped = (await Promise.all(pidFiles.map((f) => readPids(f).catch(() => [])))).flat();
    try {
      const bad = results.filter((r) => r.status !== "OK");
      assert.deepEqual(bad.map((r) => `${r.test}: ${r.output}`), []);
      assert.equal(escaped.length, pidFiles.length);
      assert.deepEqual(survivors(escaped), [], "every escaped child was ended");
    } finally {
      for (const pid of escaped) if (isAlive(pid)) Deno.kill(pid, "SIGKILL");
    }
  });

  Deno.test(`runPlugin [${way.name}]: a double-forked daemon outside group and session is ended`, async () => {
    await using fx = await pluginFixture();
    for (let i = 0; i < 3; i++) {
      const pidFile = fx.pidFile();
      const r = await runWay(
        way,
        wspec(way, fx, "check_double_fork", { params: { pidfile: pidFile } }),
      );
      const pids = await readPids(pidFile);
      try {
        assert.deepEqual([r.status, r.output], ["OK", "daemonized"]);
        assert.equal(pids.length, 3, `plugin, session leader and daemon recorded: ${pids}`);
        assert.deepEqual(survivors(pids), [], `run ${i}: nothing of the plugin is left`);
        for (const pid of pids) assert.deepEqual(sessionMembers(pid), [], `session ${pid} empty`);
      } finally {
        for (const pid of survivors(pids)) Deno.kill(pid, "SIGKILL");
      }
    }
  });

  Deno.test(`runPlugin [${way.name}]: a missing interpreter is a clear ERROR, not a crash`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const [r, ms] = await timedWay(way, wspec(way, fx, "check_bad_interpreter"));
    assert.deepEqual([r.status, r.state, r.exitCode], ["FAIL", "ERROR", null]);
    assert.equal(
      r.output,
      `Cannot run plugin ${fx.path("check_bad_interpreter")}: ` +
        "its interpreter /nonexistent/sh (from the #! line) does not exist",
    );
    assert.ok(ms < TIMEOUT + 1000);
  });
}

Deno.test("runPlugin: refuses unsafe or missing plugins, naming path and reason", async () => {
  await using fx = await pluginFixture();
  const ok = await Deno.readTextFile(fx.path("check_ok"));
  const cases: [string, () => Promise<string>, (path: string) => string][] = [
    ["missing", () => Promise.resolve(`${fx.dir}/check_nope`), (p) => `${p} does not exist`],
    ["relative", () => Promise.resolve("check_ok"), (p) => `${p} is not an absolute path`],
    ["directory", () => Promise.resolve(fx.scratch), (p) => `${p} is not a regular file`],
    [
      "group-writable",
      () => fx.write("check_gw", ok, 0o775),
      (p) => `${p} is writable by group (mode 0775); run chmod go-w on it`,
    ],
    [
      "world-writable",
      () => fx.write("check_ow", ok, 0o757),
      (p) => `${p} is writable by others (mode 0757); run chmod go-w on it`,
    ],
    ["not executable", () => fx.write("check_nx", ok, 0o644), (p) => `${p} is not executable`],
  ];
  for (const [name, make, why] of cases) {
    const path = await make();
    const reason = why(path);
    const r = await runPlugin({ host: "h", test: "t", path, timeoutMs: TIMEOUT });
    assert.deepEqual([r.status, r.state, r.exitCode], ["FAIL", "ERROR", null], name);
    assert.ok(r.output.startsWith(`Cannot run plugin ${path}: ${reason}`), `${name}: ${r.output}`);
  }
});

Deno.test({
  name: "runPlugin: refuses a plugin owned by another user, accepts the node's own",
  ignore: !isRoot,
  fn: async () => {
    await using fx = await pluginFixture();
    const path = await fx.write("check_owned", await Deno.readTextFile(fx.path("check_ok")));
    await Deno.chown(path, 4242, 4242);
    const r = await runPlugin({ host: "h", test: "t", path, timeoutMs: TIMEOUT });
    assert.equal(r.state, "ERROR");
    assert.equal(
      r.output,
      `Cannot run plugin ${path}: ${path} is owned by uid 4242, not by root`,
    );
    // The same file is fine for a node running as uid 4242 (simulated; we stay root).
    const own = await runPlugin({ host: "h", test: "t", path, timeoutMs: TIMEOUT }, {
      nodeUid: 4242,
    });
    assert.deepEqual([own.status, own.output], ["OK", "all good"]);
  },
});

/** Runs check_env and returns its report lines as `key=value` strings. */
async function envReport(fx: PluginFixture, extra: Partial<PluginSpec> = {}, deps?: RunDeps) {
  const r = await runPlugin(spec(fx, "check_env", extra), deps);
  assert.equal(r.status, "OK", r.output);
  return r.output.split(" / ").slice(1);
}

for (const way of WAYS) {
  Deno.test(`runPlugin [${way.name}]: clean environment, literal args, cwd /, stdin closed`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const marker = `${fx.scratch}/pwned`;
    const lines = await envReport(fx, {
      ...way.extra,
      args: ["-H", "db1", `; touch ${marker}`, "$(id)"],
      params: { port: 5432, "expect-body": "it works", verbose: true, HOST: "ignored" },
    }, { spawn: way.path });
    assert.deepEqual(lines.filter((l) => l.startsWith("arg=")), [
      "arg=-H",
      "arg=db1",
      `arg=; touch ${marker}`,
      "arg=$(id)",
    ]);
    assert.deepEqual(lines.filter((l) => l.startsWith("env=") && !l.startsWith("env=PWD=")), [
      "env=DMONITOR_EXPECT_BODY=it works",
      "env=DMONITOR_HOST=db1.example.com",
      "env=DMONITOR_PORT=5432",
      "env=DMONITOR_TEST=check_env",
      "env=DMONITOR_VERBOSE=true",
      "env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]);
    assert.ok(lines.includes("cwd=/"));
    assert.ok(lines.includes("stdin=0"));
    assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
  });

  Deno.test(`runPlugin [${way.name}]: no capabilities, no ignored or blocked signal, no stray fds`, async () => {
    await using fx = await pluginFixture();
    assertWay(way);
    const r = await runWay(way, wspec(way, fx, "check_creds"));
    assert.equal(r.status, "OK", r.output);
    const lines = r.output.split(" / ");
    const field = (name: string) =>
      lines.find((l) => l.startsWith(`${name}:`))?.slice(name.length + 1).trim();
    const root = isRoot && way.extra.user === null;
    const none = "0000000000000000";
    if (!root) {
      for (const cap of ["CapInh", "CapPrm", "CapEff", "CapAmb"]) {
        assert.equal(field(cap), none, cap);
      }
    }
    if (isRoot && !root) {
      assert.equal(field("Uid"), "65534 65534 65534 65534");
      assert.equal(field("Gid"), "65534 65534 65534 65534");
      assert.equal(field("Groups"), "", "no supplementary groups");
    }
    // None of the 31 classic signals (Rust ignores SIGPIPE). glibc's posix_spawn leaves its two
    // internal ones (32, 33) ignored, as Rust's own posix_spawn path always did.
    const ignored = BigInt(`0x${field("SigIgn")}`);
    assert.equal(ignored & 0x7fffffffn, 0n, `no signal ignored: ${field("SigIgn")}`);
    assert.equal(field("SigBlk"), none, "no signal blocked");
    // What ls, exec'd in the plugin's place, was started with (fd 3 is its own /proc/self/fd).
    const fds = new Map(
      lines.filter((l) => l.includes(" -> ")).map((l) => {
        const m = / (\d+) -> (.*)$/.exec(l)!;
        return [Number(m[1]), m[2]!] as const;
      }),
    );
    assert.equal(fds.get(0), "/dev/null");
    assert.match(fds.get(1)!, /^pipe:/);
    assert.match(fds.get(2)!, /^pipe:/);
    assert.match(fds.get(3)!, /^\/proc\/\d+\/fd$/);
    if (way.path === "posix_spawn") {
      // Even descriptors dmonitor inherited without close-on-exec are closed (closefrom).
      assert.deepEqual([...fds.keys()].sort((a, b) => a - b), [0, 1, 2, 3]);
    }
  });
}

Deno.test("runPlugin: the host is the only argument by default", async () => {
  await using fx = await pluginFixture();
  const lines = await envReport(fx);
  assert.deepEqual(lines.filter((l) => l.startsWith("arg=")), ["arg=db1.example.com"]);
});

for (const way of ["posix_spawn", "detached"] as const) {
  Deno.test({
    name:
      `runPlugin [${way}]: as root, plugins run as nobody, as spec.user, or as root only when null`,
    ignore: !isRoot,
    fn: async () => {
      await using fx = await pluginFixture();
      assert.equal(chooseSpawn({ uid: 65534, gid: 65534 }, way), way, posixSpawnUnavailable());
      const ids = async (user?: PluginSpec["user"]) =>
        (await envReport(fx, user === undefined ? {} : { user }, { spawn: way })).find((l) =>
          l.startsWith("uid=")
        );
      assert.equal(await ids(), "uid=65534 gid=65534 groups=65534");
      assert.equal(await ids({ uid: 4242, gid: 4343 }), "uid=4242 gid=4343 groups=4343");
      assert.equal(await ids(null), "uid=0 gid=0 groups=0");
      // The plugin must be executable by that user, or it is refused before spawning.
      const path = await fx.write("check_rootonly", "#!/bin/sh\necho OK\n", 0o700);
      const r = await runPlugin({ host: "h", test: "t", path, timeoutMs: TIMEOUT });
      assert.equal(
        r.output,
        `Cannot run plugin ${path}: ${path} is not executable by uid 65534 (mode 0700)`,
      );
    },
  });
}

Deno.test("runPlugin: an unknown default user is an ERROR result, not a throw", async () => {
  await using fx = await pluginFixture();
  const r = await runPlugin(spec(fx, "check_ok"), {
    nodeUid: 0,
    resolveUser: () => Promise.reject(new Error('Cannot resolve plugin_user "nobody"')),
  });
  assert.deepEqual([r.status, r.state], ["FAIL", "ERROR"]);
  assert.match(r.output, /Cannot resolve plugin_user "nobody"/);
});

Deno.test("runPlugin: aborting the node's signal kills the plugin with an ERROR result", async () => {
  await using fx = await pluginFixture();
  const pidFile = fx.pidFile();
  const ctl = new AbortController();
  const run = timed(spec(fx, "check_hang", { params: { pidfile: pidFile }, timeoutMs: 60_000 }), {
    signal: ctl.signal,
  });
  // Abort once the plugin has started (its pid file is the sign), without sleeping blindly.
  while ((await readPids(pidFile).catch(() => [])).length < 2) {
    await new Promise((r) => setTimeout(r, 10));
  }
  ctl.abort();
  const [r, ms] = await run;
  assert.deepEqual([r.status, r.state], ["FAIL", "ERROR"]);
  assert.equal(r.output, "run aborted (dmonitor is stopping)");
  assert.ok(ms < 2000, `took ${ms} ms`);
  await assertNothingLeft(pidFile);
});

Deno.test("runPlugin: startedAt and durationMs come from the injected clock", async () => {
  await using fx = await pluginFixture();
  let t = 1_000;
  const r = await runPlugin(spec(fx, "check_ok"), { now: () => (t += 5) });
  assert.equal(r.startedAt, 1_005);
  assert.equal(r.durationMs, 5);
});
