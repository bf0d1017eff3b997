/**
 * Started as root (these tests run as root), `run`, `sync` and `tentacle-server` switch to an
 * unprivileged user before serving: every thread of the real process is read from /proc, and the
 * node still answers its peer, runs a plugin and ping, and delivers alerts through a command.
 * Users are created per test with unique names (dmtest_*) and removed afterwards.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readThreads } from "../lib/privilege/mod.ts";
import { TentacleClient } from "../lib/tentacle/client.ts";
import { startTestServer } from "../lib/tentacle/testing.ts";
import { dataFile, notification, result } from "../lib/sync/testing.ts";
import { freePortOn } from "./sync_util.ts";
import { dmonitor, MAIN, writeTree } from "./util.ts";

const A = "127.0.60.11";
const B = "127.0.60.12";
const TARGET = "127.0.60.13";
const TENT = "127.0.60.14";
const SITE = "127.0.60.15";
const KEY = "privilege-test-peer-key-0123456789abcdef";
const isRoot = Deno.uid() === 0;

/** A system user with a unique name, removed (with its group) when the scope ends. */
async function testUser(): Promise<{ name: string; uid: number; gid: number } & AsyncDisposable> {
  const name = `dmtest_${crypto.randomUUID().slice(0, 8)}`;
  const add = await new Deno.Command("useradd", {
    args: ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
  }).output();
  assert.equal(add.code, 0, new TextDecoder().decode(add.stderr));
  const id = (flag: string) =>
    Number(
      new TextDecoder().decode(new Deno.Command("id", { args: [flag, name] }).outputSync().stdout),
    );
  return {
    name,
    uid: id("-u"),
    gid: id("-g"),
    async [Symbol.asyncDispose]() {
      await new Deno.Command("userdel", { args: [name] }).output();
    },
  };
}

/** Who the default (no run_as) is on this machine: dmonitor when it exists, else nobody. */
function defaultUser(): { name: string; uid: number; gid: number } {
  const passwd = Deno.readTextFileSync("/etc/passwd");
  for (const name of ["dmonitor", "nobody"]) {
    const f = passwd.split("\n").find((l) => l.startsWith(`${name}:`))?.split(":");
    if (f && f[2] !== "0") return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error("no dmonitor or nobody user");
}

/** A `dmonitor ARGS` process as root, stderr collected. */
class Proc {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reader: Promise<void>;
  constructor(args: string[]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", MAIN, ...args],
      env: { NO_COLOR: "1", DMONITOR_LOG_LEVEL: "info" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#reader = (async () => {
      let buf = "";
      for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
        buf += c;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          this.lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      }
    })();
  }
  get pid() {
    return this.#child.pid;
  }
  async waitFor(re: RegExp, ms = 60_000): Promise<string> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const l = this.lines.find((l) => re.test(l));
      if (l) return l;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${re}; log:\n${this.lines.join("\n")}`);
  }
  async [Symbol.asyncDispose]() {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#child.status;
    await this.#reader.catch(() => {});
  }
}

/** Every thread of `pid` runs as exactly uid/gid, no supplementary group, no capability. */
async function assertDropped(pid: number, uid: number, gid: number) {
  const threads = await readThreads(pid);
  assert.ok(threads.size > 1, `several threads (V8, tokio), got ${threads.size}`);
  for (const [tid, c] of threads) {
    assert.deepEqual(c.uid, [uid, uid, uid, uid], `thread ${tid} uid`);
    assert.deepEqual(c.gid, [gid, gid, gid, gid], `thread ${tid} gid`);
    assert.deepEqual(c.groups, [], `thread ${tid} groups`);
    assert.equal(c.capEff, "0000000000000000", `thread ${tid} CapEff`);
  }
}

/** alert.d/log.command: appends the notification document to `out` (a directory the user owns). */
function alertCommand(out: string): string {
  return `#!/bin/sh\ncat >> ${out}/alerts.jsonl\necho >> ${out}/alerts.jsonl\n`;
}

async function outboxDir(uid: number, gid: number): Promise<string> {
  const out = await Deno.makeTempDir({ prefix: "dmonitor-priv-out-" });
  await Deno.chown(out, uid, gid);
  return out;
}

async function waitForFile(path: string, re: RegExp, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = await Deno.readTextFile(path).catch(() => "");
    if (re.test(t)) return t;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${re} in ${path}`);
}

Deno.test({
  name:
    "run as root with run_as: two nodes drop to the user, confirm through each other, run a plugin and ping, deliver by command",
  ignore: !isRoot,
  async fn() {
    await using user = await testUser();
    const out = await outboxDir(user.uid, user.gid);
    const port = freePortOn(A);
    const nodes: Proc[] = [];
    const trees: string[] = [];
    try {
      for (const [i, host] of [A, B].entries()) {
        const tree = await writeTree({
          "dmonitor.yaml":
            `node: n${i + 1}\nlisten: ${host}:${port}\nstate_dir: state\nrun_as: ${user.name}\n` +
            "interval: 2s\ntimeout: 1500ms\nquorum: 2\n",
          "nodes.txt": `${A}:${port} n1\n${B}:${port} n2\n`,
          "peer.key": KEY,
          "alert.d/log.command": alertCommand(out),
          "plugins/check_whoami":
            '#!/bin/sh\necho "CRITICAL - uid $(id -u) gid $(id -g)"\nexit 2\n',
          [`hosts.d/${TARGET}/whoami`]: "",
          [`hosts.d/${TARGET}/ping`]: "count: 1\n",
        });
        await Deno.chmod(join(tree, "alert.d/log.command"), 0o755);
        trees.push(tree);
        nodes.push(new Proc(["run", "--config", tree]));
      }
      for (const n of nodes) await n.waitFor(/node started/);
      for (const n of nodes) {
        assert.ok(n.lines.some((l) => l.includes(`dropped root privileges user=${user.name}`)));
        await assertDropped(n.pid, user.uid, user.gid);
      }
      // The built-in ping works unprivileged (iputils' file capability or ping_group_range).
      for (const n of nodes) await n.waitFor(/test=ping status=OK/);
      // The outage needs both nodes (quorum 2): each answered the other's signed confirm request.
      const text = await waitForFile(join(out, "alerts.jsonl"), /"kind":\s*"down"/).catch((e) => {
        throw new Error(
          `${e.message}; logs:\n${nodes.map((n) => n.lines.join("\n")).join("\n--\n")}`,
        );
      });
      assert.match(
        text,
        new RegExp(`uid ${user.uid} gid ${user.gid}`),
        "the plugin ran as the user",
      );
      // The state directory was created for the user; the config tree stays root's.
      const st = await Deno.stat(join(trees[0]!, "state"));
      assert.equal(st.uid, user.uid);
      assert.equal((await Deno.stat(join(trees[0]!, "dmonitor.yaml"))).uid, 0);
      // SIGHUP as the user: the whole tree, peer.key (handed to the user) included, is re-read;
      // the restart-only warning is logged only after a reload that loaded it.
      const yaml = join(trees[0]!, "dmonitor.yaml");
      await Deno.writeTextFile(yaml, (await Deno.readTextFile(yaml)) + "concurrency: 8\n");
      Deno.kill(nodes[0]!.pid, "SIGHUP");
      await nodes[0]!.waitFor(/take effect after a restart settings=concurrency/);
      assert.equal((await Deno.stat(join(trees[0]!, "peer.key"))).mode! & 0o777, 0o600);
    } finally {
      for (const n of nodes) await n[Symbol.asyncDispose]();
    }
  },
});

Deno.test({
  name: "run as root without run_as: dmonitor, else nobody; run_as: root keeps root with a warning",
  ignore: !isRoot,
  async fn() {
    const want = defaultUser();
    const port = freePortOn(A);
    const tree = await writeTree({
      "dmonitor.yaml": `listen: ${A}:${port}\nstate_dir: state\n`,
      "nodes.txt": "",
    });
    {
      await using n = new Proc(["run", "--config", tree]);
      await n.waitFor(/node started/);
      await assertDropped(n.pid, want.uid, want.gid);
      if (want.name === "nobody") {
        assert.ok(n.lines.some((l) => l.includes('why="user dmonitor does not exist"')));
      }
    }
    await Deno.writeTextFile(
      join(tree, "dmonitor.yaml"),
      `listen: ${A}:${port}\nstate_dir: state\nrun_as: root\n`,
    );
    await using r = new Proc(["run", "--config", tree]);
    await r.waitFor(/node started/);
    assert.ok(
      r.lines.some((l) => /WARN.*run_as: root keeps every part/.test(l)),
      r.lines.join("\n"),
    );
    const threads = await readThreads(r.pid);
    assert.ok([...threads.values()].every((c) => c.uid[1] === 0));
  },
});

Deno.test({
  name:
    "run as root: a root-owned state directory holding more than the database is refused, naming it",
  ignore: !isRoot,
  async fn() {
    await using user = await testUser();
    const state = await Deno.makeTempDir({ prefix: "dmonitor-priv-state-" });
    await Deno.chmod(state, 0o755);
    await Deno.writeTextFile(join(state, "state.db"), "");
    await Deno.writeTextFile(join(state, "notes.txt"), "not dmonitor's\n");
    const tree = await writeTree({
      "dmonitor.yaml": `listen: ${A}:${freePortOn(A)}\nstate_dir: ${state}\nrun_as: ${user.name}\n`,
      "nodes.txt": "",
    });
    const r = await dmonitor(["run", "--config", tree]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `dmonitor run: state_dir ${state} is not writable by user ${user.name} (owner uid 0, mode 0755); ` +
        `dmonitor switches to that user after starting as root: chown -R ${user.name}: ${state}\n`,
    );
    // Nothing was changed: the directory and the file are still root's.
    assert.equal((await Deno.stat(join(state, "state.db"))).uid, 0);
  },
});

Deno.test({
  name: "tentacle-server as root serves as dmonitor or nobody and writes files as that user",
  ignore: !isRoot,
  async fn() {
    const want = defaultUser();
    const dir = await Deno.makeTempDir({ prefix: "dmonitor-priv-tentacle-" });
    await Deno.chown(dir, want.uid, want.gid);
    const port = freePortOn(TENT);
    await using s = new Proc(["tentacle-server", "-s", dir, "-a", TENT, "-p", String(port), "-V"]);
    let client: TentacleClient | null = null;
    for (let i = 0; i < 200 && !client; i++) {
      client = await TentacleClient.connect({ host: TENT, port, probe: false }).catch(() => null);
      if (!client) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(client, s.lines.join("\n"));
    await assertDropped(s.pid, want.uid, want.gid);
    await client.send("f.data", new TextEncoder().encode("hello"));
    await client.quit();
    assert.equal((await Deno.stat(join(dir, "f.data"))).uid, want.uid);

    // A storage directory that user cannot write: one line, before serving.
    const closed = await Deno.makeTempDir({ prefix: "dmonitor-priv-tentacle-" });
    const r = await dmonitor([
      "tentacle-server",
      "-s",
      closed,
      "-a",
      TENT,
      "-p",
      String(freePortOn(TENT)),
    ]);
    assert.equal(r.code, 64);
    assert.equal(
      r.stderr,
      `tentacle-server: Cannot write to directory ${closed} as uid ${want.uid}.\n`,
    );
  },
});

Deno.test({
  name: "sync as root drops to run_as, pulls a site and delivers its notification by command",
  ignore: !isRoot,
  async fn() {
    await using user = await testUser();
    const out = await outboxDir(user.uid, user.gid);
    await using srv = await startTestServer({ insecure: true, addresses: [SITE] });
    const now = Date.now();
    await Deno.writeTextFile(
      join(srv.dir, "a.1.data"),
      dataFile("n1", now, [result({ startedAt: now })], [notification()]),
    );
    const tree = await writeTree({
      "dmonitor.yaml":
        `node: central\nstate_dir: state\nrun_as: ${user.name}\nsync:\n  interval: 30s\n`,
      "nodes.txt": "",
      "alert.d/log.command": alertCommand(out),
      "pandora_server.conf":
        `syncserver 1\nsync_address ${SITE}\nsync_port ${srv.port}\nsync_retries 0\nsync_timeout 5\n`,
    });
    await Deno.chmod(join(tree, "alert.d/log.command"), 0o755);
    await using p = new Proc([
      "sync",
      "--config",
      tree,
      "--pandora-conf",
      join(tree, "pandora_server.conf"),
    ]);
    await p.waitFor(/pulled site/);
    await assertDropped(p.pid, user.uid, user.gid);
    await waitForFile(join(out, "alerts.jsonl"), /inc-1/);
    assert.equal((await Deno.stat(join(tree, "state/state.db"))).uid, user.uid);
  },
});
