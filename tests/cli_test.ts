/**
 * The command line as a user meets it: real processes, real exit codes and messages.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

Deno.test("version and help", async () => {
  const v = await dmonitor(["version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^dmonitor \d+\.\d+\.\d+\n$/);
  for (const cmd of ["run", "check", "config"]) {
    const h = await dmonitor([cmd, "--help"]);
    assert.equal(h.code, 0, cmd);
    assert.match(h.stdout, new RegExp(`^Usage: dmonitor ${cmd}`), cmd);
  }
  const top = await dmonitor(["--help"]);
  assert.match(top.stdout, /Commands:/);
});

Deno.test("bad flags and arguments: one line, exit 64, no stack trace", async () => {
  for (
    const args of [["frobnicate"], ["check", "--bogus", "h"], ["check"], ["check", "-rf", "ping"], [
      "config",
      "chek",
    ], []]
  ) {
    const r = await dmonitor(args);
    assert.equal(r.code, 64, `${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, "no stack trace");
    if (args.length > 0) assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

Deno.test("config check: OK summary, or every problem with file, key and value and exit 1", async () => {
  const good = await writeTree({ "hosts.d/127.0.102.1/ping": "", "nodes.txt": "" });
  const ok = await dmonitor(["config", "check", "--config", good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /OK: node \S+, 1 hosts, 1 tests, 0 peers \(single-node mode\)/);

  const bad = await writeTree({
    "hosts.d/www.example.com/ssh": "port: 99999\n",
    "hosts.d/www.example.com/nosuch": "",
    "dmonitor.yaml": "interval: often\n",
  });
  const r = await dmonitor(["config", "check", "--config", bad]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`${bad}/hosts.d/www.example.com/ssh: 'port' must be 1-65535, got 99999`),
  );
  assert.match(r.stderr, /hosts.d\/www.example.com\/nosuch: test 'nosuch' has no plugin/);
  assert.match(
    r.stderr,
    /dmonitor.yaml: 'interval' must be a duration like 30s, 5m or 1h, got "often"/,
  );
  assert.match(r.stderr, /3 problems/);
});

Deno.test("check: configured and ad-hoc tests against a real listener; exit 2 on failure", async () => {
  using listener = Deno.listen({ hostname: "127.0.102.1", port: 0 });
  const port = listener.addr.port;
  (async () => {
    for await (const c of listener) c.close();
  })().catch(() => {});
  const tree = await writeTree({
    [`hosts.d/127.0.102.1/tcp`]: `port: ${port}\n`,
    "plugins/check_always_fail": "#!/bin/sh\necho FAIL broken on purpose\n",
  });
  const ok = await dmonitor(["check", "--config", tree, "127.0.102.1"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^127\.0\.102\.1 tcp OK /m);

  const mixed = await dmonitor(["check", "--config", tree, "127.0.102.1", "tcp", "always_fail"]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stdout, /^127\.0\.102\.1 tcp OK /m);
  assert.match(mixed.stdout, /^127\.0\.102\.1 always_fail FAIL broken on purpose$/m);

  listener.close();
  const down = await dmonitor([
    "check",
    "--config",
    tree,
    "--set",
    `port=${port}`,
    "127.0.102.1",
    "tcp",
  ]);
  assert.equal(down.code, 2);
  assert.match(down.stdout, /^127\.0\.102\.1 tcp FAIL /m);

  const missing = await dmonitor([
    "check",
    "--config",
    tree,
    "127.0.102.1",
    "tcp",
    "--set",
    "port=0",
  ]);
  assert.equal(missing.code, 64);
  assert.match(missing.stderr, /'port' must be 1-65535, got 0/);
});

Deno.test("run: refuses a broken tree; SIGHUP keeps the old config when the new one is broken; state survives kill -9", async () => {
  const broken = await writeTree({ "hosts.d/a.example/ssh": "port: nope\n" });
  const r = await dmonitor(["run", "--config", broken]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refusing to start: 1 configuration problem/);
  assert.match(r.stderr, /'port' must be 1-65535, got "nope"/);

  const state = await Deno.makeTempDir();
  const tree = await writeTree({
    "dmonitor.yaml":
      `listen: 127.0.102.2:29290\nstate_dir: ${state}\ninterval: 1s\ntimeout: 900ms\n`,
    "hosts.d/127.0.102.1/mark": "",
    "plugins/check_mark": "#!/bin/sh\necho OK marked $1\n",
  });
  {
    await using node = new NodeProcess(["--config", tree]);
    await node.waitFor(/node started/);
    await node.waitFor(/check result host=127\.0\.102\.1 test=mark status=OK/);
    // A broken edit, then SIGHUP: refused, old config keeps running.
    await Deno.writeTextFile(join(tree, "hosts.d/127.0.102.1/mark"), "interval: never\n");
    node.kill("SIGHUP");
    await node.waitFor(/reload refused/);
    // Still checking after a refused reload: a new result after the refusal.
    await node.waitFor(
      /check result host=127\.0\.102\.1 test=mark status=OK/,
      10_000,
      node.lines.length,
    );
    // A good edit: accepted.
    await Deno.writeTextFile(join(tree, "hosts.d/127.0.102.1/mark"), "interval: 2s\n");
    node.kill("SIGHUP");
    await node.waitFor(/configuration reloaded/);
    node.kill("SIGKILL");
    await node.status;
  }
  // After kill -9 the last result is still in the state database.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(join(state, "state.db"));
  const row = db.prepare(
    "SELECT status, output FROM check_last WHERE host = '127.0.102.1' AND test = 'mark'",
  ).get() as
    | { status: string; output: string }
    | undefined;
  db.close();
  assert.equal(row?.status, "OK");
  assert.equal(row?.output, "marked 127.0.102.1");
});

Deno.test("check: Nagios WARNING, CRITICAL, UNKNOWN and a timeout each print their own word", async () => {
  const tree = await writeTree({
    "hosts.d/127.0.0.1/warn": "",
    "hosts.d/127.0.0.1/crit": "",
    "hosts.d/127.0.0.1/unk": "",
    "hosts.d/127.0.0.1/slow": "timeout: 300ms\n",
    "hosts.d/127.0.0.1/fine": "",
    "plugins/check_warn": "#!/bin/sh\necho 'DISK WARNING - 91% used'\nexit 1\n",
    "plugins/check_crit": "#!/bin/sh\necho 'DISK CRITICAL - 99% used'\nexit 2\n",
    "plugins/check_unk": "#!/bin/sh\necho 'UNKNOWN - no such mount'\nexit 3\n",
    "plugins/check_slow": "#!/bin/sh\nexec sleep 30\n",
    "plugins/check_fine": "#!/bin/sh\necho 'DISK OK'\nexit 0\n",
  });
  const r = await dmonitor(["check", "--config", tree, "127.0.0.1"]);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stdout.trim().split("\n").sort();
  assert.deepEqual(lines.map((l) => l.split(" ").slice(1, 3).join(" ")), [
    "crit CRITICAL",
    "fine OK",
    "slow TIMEOUT",
    "unk UNKNOWN",
    "warn WARNING",
  ]);
  const warnOnly = await dmonitor(["check", "--config", tree, "127.0.0.1", "warn"]);
  assert.equal(warnOnly.code, 0, "a WARNING passes by default");
  assert.equal(warnOnly.stdout, "127.0.0.1 warn WARNING DISK WARNING - 91% used\n");
});

Deno.test("config check: 'interval: 2s' alone is valid; a written timeout above it names its file", async () => {
  const short = await writeTree({
    "dmonitor.yaml": "interval: 2s\n",
    "hosts.d/127.0.0.1/ping": "",
    "hosts.d/127.0.0.1/ssh": "",
  });
  const ok = await dmonitor(["config", "check", "--config", short]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /: OK: .*2 tests/);
  const bad = await writeTree({
    "dmonitor.yaml": "timeout: 5s\n",
    "hosts.d/127.0.0.1/ping": "interval: 2s\n",
  });
  const r = await dmonitor(["config", "check", "--config", bad]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /hosts\.d\/127\.0\.0\.1\/ping: 'timeout' must not exceed the interval \(2s\), got 5s \(inherited from dmonitor\.yaml\)/,
  );
});

Deno.test("tentacle-server --help and tentacle-client --help print their usage", async () => {
  for (const cmd of ["tentacle-server", "tentacle-client"]) {
    for (const flag of ["--help", "-h"]) {
      const r = await dmonitor([cmd, flag]);
      assert.equal(r.code, 0, `${cmd} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: dmonitor ${cmd} `));
      assert.equal(r.stderr, "");
    }
  }
  const bad = await dmonitor(["tentacle-client", "--frobnicate"]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /unknown option/);
});
