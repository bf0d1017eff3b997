/**
 * Silences and acknowledgements shared by the cluster, on real nodes: `dmonitor silence` and
 * `dmonitor ack` as an operator runs them on one node, the others learning it over the signed
 * peer API (at once, or by anti-entropy when they come back), and the notices every node sends.
 *
 * Checks are a plugin that fails while a flag file for (node, test) exists, so the test decides
 * which nodes see an outage and hence which node notifies. Blocks: 127.0.150.0/24 (silences),
 * 127.0.151.0/24 (acknowledgements), 127.0.152.0/24 (usage errors, single node).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { consensusKit } from "./consensus_util.ts";
import { dmonitor, NodeProcess, until, writeTree } from "./util.ts";
import { trustedTempDir } from "../lib/runner/testing.ts";

const PLUGIN = `#!/bin/sh
if [ -e "$DMONITOR_FLAGDIR/$DMONITOR_WHO-$DMONITOR_TEST" ]; then echo "FAIL flagged"; else echo "OK fine"; fi
`;

interface View {
  node: string;
  silences?: { id?: string; host: string; test: string | null; by?: string; origin?: string }[];
  incidents: {
    id: string;
    test: string;
    state: string;
    notifier: string | null;
    acknowledged?: { by: string; origin: string; at: number; reason: string } | null;
    notices?: { kind: string; state: string; lastError: string | null }[];
  }[];
  peers: {
    name: string | null;
    address: string;
    reachable?: boolean | null;
    clockOffsetMs?: number | null;
    clockProblem?: string | null;
  }[];
}

async function flagDir(): Promise<string> {
  const d = await trustedTempDir("dmonitor-flags-");
  await Deno.chmod(d, 0o755);
  return d;
}

/** Per node i: tests `names` of host db1, each failing while `<flags>/n<i+1>-<test>` exists. */
function flagTests(flags: string, names: string[]) {
  return (i: number) =>
    Object.fromEntries(names.flatMap((t) => [
      [`hosts.d/db1/${t}`, `flagdir: ${flags}\nwho: n${i + 1}\n`],
      [`plugins/check_${t}`, PLUGIN],
    ]));
}

const flag = (flags: string, node: number, test: string) =>
  Deno.writeTextFile(join(flags, `n${node}-${test}`), "");
const unflag = (flags: string, node: number, test: string) =>
  Deno.remove(join(flags, `n${node}-${test}`));

Deno.test("a silence added on n1 while n3 is down reaches n3 when it returns, holds whichever node notifies, and its removal propagates", async () => {
  const kit = consensusKit("127.0.150");
  const flags = await flagDir();
  await using hook = kit.receiver();
  // Quorum 1: a node that sees the outage alone confirms and notifies it alone, so the test picks
  // the notifier (n3 for test a, n1 for test b, n3 again for test c).
  await using c = await kit.cluster(3, hook.url, flagTests(flags, ["a", "b", "c"]), { quorum: 1 });
  const view = async (i: number) => (await kit.statusOf(i)) as unknown as View;
  await Promise.all(c.nodes.map((p) => p.waitFor(/test=c status=OK/)));

  c.nodes[2]!.kill("SIGKILL");
  await c.nodes[2]!.status;
  const add = await dmonitor([
    "silence",
    "add",
    "db1",
    "--for",
    "1h",
    "--reason",
    "disk swap",
    "--by",
    "alice",
    "--config",
    c.trees[0]!,
  ]);
  assert.equal(add.code, 0, add.stderr);
  const id =
    /^silence ([0-9a-f]{12}) added on n1: db1 \(every test\) until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (59m|1h)\)$/m
      .exec(add.stdout)?.[1];
  assert.ok(id, add.stdout);
  assert.match(
    add.stdout,
    /^sent to n2; n3 not reached \(.*\): it gets the silence when it is in contact again$/m,
  );
  // n2 got it at once; n1 lists it as shared, with who and where.
  const onN2 = (await view(1)).silences ?? [];
  assert.deepEqual(onN2.map((s) => [s.id, s.host, s.test, s.by, s.origin]), [
    [id, "db1", null, "alice", "n1"],
  ]);
  const list = await dmonitor(["silence", "list", "--config", c.trees[0]!]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(
    list.stdout,
    new RegExp(
      `^${id}\\s+db1\\s+\\*\\s+\\d{4}-.* UTC \\(in .*\\)\\s+alice on n1\\s+disk swap$`,
      "m",
    ),
  );

  // n3 comes back with its old state: anti-entropy brings the silence it missed.
  await using n3 = new NodeProcess(["--config", c.trees[2]!], { DMONITOR_LOG_LEVEL: "info" });
  await n3.waitFor(/node started/);
  await until(
    "n3 to hold the silence",
    async () => ((await view(2)).silences ?? []).some((s) => s.id === id),
    { nodes: [n3] },
  );
  assert.ok(n3.lines.some((l) => /silence received/.test(l) && l.includes(id)), "n3 logged it");

  // An outage only n3 sees (n3 notifies) and one only n1 sees (n1 notifies): both muted.
  await flag(flags, 3, "a");
  await flag(flags, 1, "b");
  const mutedOn = (i: number, test: string) =>
    until(`the ${test} notice muted on n${i + 1}`, async () => {
      const inc = (await view(i)).incidents.find((x) => x.test === test);
      return inc?.notifier === `n${i + 1}` &&
        (inc.notices ?? []).some((n) =>
          n.kind === "down" && n.state === "muted" && (n.lastError ?? "").includes(`silence ${id}`)
        );
    }, { nodes: [c.nodes[0]!, c.nodes[1]!, n3] });
  await mutedOn(2, "a");
  await mutedOn(0, "b");
  assert.deepEqual(hook.got, [], "no node sent anything for the silenced outages");

  // Removed on n2: n1 and n3 drop it too; then an outage only n3 sees is notified by n3.
  const rm = await dmonitor(["silence", "remove", id!, "--by", "bob", "--config", c.trees[1]!]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, `silence ${id} removed\nsent to n1, n3\n`);
  for (const i of [0, 2]) {
    await until(
      `n${i + 1} to drop the silence`,
      async () => !((await view(i)).silences ?? []).some((s) => s.id === id),
      { nodes: [c.nodes[0]!, n3] },
    );
  }
  const again = await dmonitor(["silence", "remove", id!, "--config", c.trees[2]!]);
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    new RegExp(`the node refused: silence ${id} was already removed by bob on n2 at `),
  );
  await flag(flags, 3, "c");
  await until("the down notice of c", () => hook.kinds("down").some((n) => n.test === "c"), {
    nodes: [c.nodes[0]!, n3],
  });
  const down = hook.kinds("down");
  assert.deepEqual(down.map((n) => [n.test, n.notifier]), [["c", "n3"]], JSON.stringify(hook.got));
  await unflag(flags, 3, "a");
  await unflag(flags, 1, "b");
  await unflag(flags, 3, "c");
});

Deno.test("dmonitor ack on n2 mutes the notifier's reminders, every view shows it, and the recovery is still sent", async () => {
  const kit = consensusKit("127.0.151");
  const flags = await flagDir();
  for (const i of [1, 2, 3]) await flag(flags, i, "x");
  await using hook = kit.receiver();
  await using c = await kit.cluster(3, hook.url, flagTests(flags, ["x"]), {
    yaml: "remind: 60s\n",
  });
  const view = async (i: number) => (await kit.statusOf(i)) as unknown as View;
  const notifier = await kit.allKnowNotified(c, [0, 1, 2], "x");
  assert.equal(notifier, "n1");
  await until("the down notice", () => hook.kinds("down").length === 1, { nodes: c.nodes });

  const ack = await dmonitor([
    "ack",
    "db1/x",
    "--reason",
    "replacing the disk",
    "--by",
    "carol",
    "--config",
    c.trees[1]!,
  ]);
  assert.equal(ack.code, 0, ack.stderr);
  const incident = (await view(1)).incidents.find((x) => x.test === "x")!.id;
  assert.equal(
    ack.stdout,
    `incident ${incident} (db1/x) acknowledged by carol on n2: reminders stop, the recovery notice is still sent\nsent to n1, n3\n`,
  );
  for (const i of [0, 1, 2]) {
    const inc = (await view(i)).incidents.find((x) => x.test === "x")!;
    assert.deepEqual(inc.acknowledged, {
      by: "carol",
      origin: "n2",
      at: inc.acknowledged!.at ?? 0,
      reason: "replacing the disk",
    }, `n${i + 1}`);
  }
  const text = await dmonitor(["status", "--config", c.trees[2]!]);
  assert.match(
    text.stdout,
    /^ {4}acknowledged by carol on n2 \d+s ago \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): replacing the disk; reminders stop, the recovery is still sent$/m,
  );
  const page = await (await fetch(`http://${kit.addr(0)}:${kit.PORT}/`)).text();
  assert.match(page, /data-acknowledged="">acknowledged by carol on n2 .*: replacing the disk;/);

  // The first reminder falls due a minute after the down notice: n1 records it muted.
  await until("n1 to mute reminder 1", async () => {
    const inc = (await view(0)).incidents.find((x) => x.test === "x");
    return (inc?.notices ?? []).some((n) =>
      n.kind === "reminder" && n.state === "muted" &&
      (n.lastError ?? "").startsWith("muted: acknowledged by carol on n2 at ")
    );
  }, { ms: 120_000, nodes: c.nodes });
  for (const i of [1, 2, 3]) await unflag(flags, i, "x");
  await until("the recovery notice", () => hook.kinds("recovered").length === 1, {
    ms: 60_000,
    nodes: c.nodes,
  });
  assert.deepEqual(hook.got.map((n) => n.kind), ["down", "recovered"], JSON.stringify(hook.got));
});

Deno.test("silence and ack: bad input is one clear line; only the node's local token may change anything", async () => {
  const state = await Deno.makeTempDir({ prefix: "dmonitor-state-" });
  const flags = await flagDir();
  const tree = await writeTree({
    "dmonitor.yaml": `node: s1\nlisten: 127.0.152.1:2929\nstate_dir: ${state}\ninterval: 1s\n`,
    "silence.d/db1/x": "2999-01-01T00:00Z\nfirmware upgrade\n",
    ...flagTests(flags, ["x"])(0),
  });
  const run = (...args: string[]) => dmonitor([...args, "--config", tree]);
  const usage: [string[], RegExp][] = [
    [["silence"], /^dmonitor silence: expected add, list or remove, got ""/],
    [
      ["silence", "add", "db1", "--reason", "r"],
      /exactly one of --for DURATION \(such as 2h\) or --until TIME/,
    ],
    [
      ["silence", "add", "db1", "--for", "2h", "--until", "2999-01-01T00:00Z", "--reason", "r"],
      /exactly one of/,
    ],
    [
      ["silence", "add", "db1", "--until", "2999-01-01T00:00", "--reason", "r"],
      /--until must be an ISO 8601 time with a zone, such as 2025-03-01T18:00Z or 2025-03-01T18:00\+01:00, got "2999-01-01T00:00"/,
    ],
    [
      ["silence", "add", "db1", "--until", "2020-01-01T00:00Z", "--reason", "r"],
      /--until 2020-01-01T00:00Z is in the past \(now \d{4}-.* UTC\)/,
    ],
    [
      ["silence", "add", "db1", "--for", "soon", "--reason", "r"],
      /--for must be a duration like 30s, 5m or 1h, got "soon"/,
    ],
    [["silence", "add", "db1", "--for", "2h"], /--reason TEXT is required/],
    [
      ["silence", "add", "db 1", "--for", "2h", "--reason", "r"],
      /HOST\[\/TEST\] must be a host, optionally with a test name, such as db1 or db1\/ssh, got "db 1"/,
    ],
    [
      ["silence", "remove", "silence.d/db1/x"],
      /ID must be the 12 hex digits .* \(a silence.d\/ file is removed by deleting it\)/,
    ],
    [["silence", "list", "--for", "1h"], /dmonitor silence list: --for does not apply here/],
    [
      ["ack", "db1"],
      /^dmonitor ack: HOST\/TEST must be a host and a test name, such as db1\/ssh, got "db1"/,
    ],
    [["ack", "db1/x", "--bogus"], /^dmonitor ack: Unknown option '--bogus'/],
  ];
  for (const [args, re] of usage) {
    const r = await run(...args);
    assert.equal(r.code, 64, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  const noNode = await run("silence", "list");
  assert.equal(noNode.code, 1);
  assert.match(
    noNode.stderr,
    /cannot read the node's local token .*status\.token: run this as the node's user or root/,
  );

  {
    await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
    await node.waitFor(/node started/);
    const noIncident = await run("ack", "db1/x");
    assert.equal(noIncident.code, 1);
    assert.equal(
      noIncident.stderr,
      "dmonitor ack: the node refused: no open incident for db1/x on node s1 (only a confirmed outage can be acknowledged; see 'dmonitor status')\n",
    );
    const unknown = await run("silence", "remove", "0123456789ab");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /the node refused: no shared silence "0123456789ab" on node s1/);
    const ctl = await run("silence", "add", "db1", "--for", "1h", "--reason", "a\tb");
    assert.equal(ctl.code, 1);
    assert.match(ctl.stderr, /the node refused: --reason must not hold control characters/);
    const added = await run(
      "silence",
      "add",
      "db1/x",
      "--for",
      "30m",
      "--reason",
      "r",
      "--by",
      "eve",
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stdout,
      /^silence [0-9a-f]{12} added on s1: db1\/x until .* UTC \(in 30m\)\nno peers \(single-node mode\)\n$/,
    );
    // The silence.d/ file is listed as this node's own, beside the shared one.
    const list = await run("silence", "list");
    assert.match(
      list.stdout,
      /^silence\.d\/db1\/x\s+db1\s+x\s+2999-01-01 00:00:00 UTC \(in .*\)\s+file on s1\s+firmware upgrade$/m,
    );
    assert.match(list.stdout, /^[0-9a-f]{12}\s+db1\s+x\s+.* UTC \(in 30m\)\s+eve on s1\s+r$/m);
    // Loopback may read the status view, but not change silences without the local token.
    for (
      const auth of [{}, { authorization: "Bearer not-the-token-0123456789" }] as Record<
        string,
        string
      >[]
    ) {
      const res = await fetch("http://127.0.152.1:2929/v1/local/silences", {
        method: "POST",
        headers: auth,
        body: JSON.stringify({
          host: "db1",
          test: null,
          until: Date.now() + 60_000,
          reason: "",
          by: "x",
        }),
      });
      assert.equal(res.status, 403);
      assert.match((await res.json()).error, /only 'dmonitor' on the node itself/);
    }
    assert.equal((await fetch("http://127.0.152.1:2929/v1/status")).status, 200);
  }
  const gone = await run("silence", "list");
  assert.equal(gone.code, 1);
  assert.match(
    gone.stderr,
    /cannot reach the node at http:\/\/127\.0\.152\.1:2929\/v1\/local\/silences .*connection refused; is 'dmonitor run' running\?/,
  );
});

/** libfaketime (Debian package faketime), which moves a process's wall clock only. */
async function libfaketime(): Promise<string> {
  for (const arch of ["x86_64-linux-gnu", "aarch64-linux-gnu"]) {
    const p = `/usr/lib/${arch}/faketime/libfaketime.so.1`;
    if (await Deno.stat(p).then(() => true, () => false)) return p;
  }
  throw new Error("libfaketime not found: apt-get install faketime (make test does)");
}

Deno.test("clocks that disagree by more than a few seconds are shown as a problem on both sides, also beyond the 30 s the peers accept", async () => {
  const lib = await libfaketime();
  const flags = await flagDir();
  const addr = (i: number) => `127.0.153.${i + 2}`;
  const nodesTxt = [0, 1, 2].map((i) => `${addr(i)}:2929 n${i + 1}`).join("\n") + "\n";
  // n2's clock runs 12 s ahead (requests still accepted), n3's 45 s behind (refused as stale).
  const offsets = [null, "+12s", "-45s"];
  await using stack = new AsyncDisposableStack();
  const trees: string[] = [];
  for (const i of [0, 1, 2]) {
    const state = await Deno.makeTempDir({ prefix: "dmonitor-state-" });
    trees.push(
      await writeTree({
        "dmonitor.yaml": `node: n${i + 1}\nlisten: ${
          addr(i)
        }:2929\nstate_dir: ${state}\ninterval: 1s\n`,
        "nodes.txt": nodesTxt,
        "peer.key": "clock-test-key-0123456789abcdef0123456789",
        ...flagTests(flags, ["x"])(i),
      }),
    );
    const env: Record<string, string> = { DMONITOR_LOG_LEVEL: "info" };
    if (offsets[i]) {
      Object.assign(env, {
        LD_PRELOAD: lib,
        FAKETIME: offsets[i]!,
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      });
    }
    stack.use(new NodeProcess(["--config", trees[i]!], env));
  }
  const view = async (i: number) =>
    (await (await fetch(`http://${addr(i)}:2929/v1/status`)).json()) as View;
  /** Each peer of node i by its node name (from nodes.txt: n3 never answers n1). */
  const problems = async (i: number) =>
    Object.fromEntries(
      (await view(i)).peers.map((p) => [`n${Number(p.address.split(/[.:]/)[3]) - 1}`, p]),
    );
  let seen: Record<string, View["peers"][number]> = {};
  await until("n1 to show both clock problems", async () => {
    seen = await problems(0).catch(() => ({}));
    return Boolean(seen.n2?.clockProblem && seen.n3?.clockProblem);
  }, { ms: 45_000 }).catch((e) => {
    throw new Error(`${e.message}\nn1 peers: ${JSON.stringify(seen)}`);
  });
  assert.ok(Math.abs(seen.n2!.clockOffsetMs! - 12_000) < 1500, String(seen.n2!.clockOffsetMs));
  assert.match(seen.n2!.clockProblem!, /^clock of n2 is 1[12]\.\d s ahead of this node's/);
  assert.ok(Math.abs(seen.n3!.clockOffsetMs! + 45_000) < 1500, String(seen.n3!.clockOffsetMs));
  assert.match(
    seen.n3!.clockProblem!,
    /^clock of n3 is 4[45]\.\d s behind this node's .*beyond 30 s their requests are refused/,
  );
  await until("n2 to see n1 behind", async () => {
    const p = await problems(1).catch(() => ({} as typeof seen));
    return /^clock of n1 is 1[12]\.\d s behind/.test(p.n1?.clockProblem ?? "");
  }, { ms: 45_000 });
  // The clock offsets come from what the peers sent; the status line names n2 once n1's own
  // heartbeat has reached it (the first round can lag on a busy machine).
  await until("n1 to reach n2", async () => {
    const p = await problems(0).catch(() => ({} as typeof seen));
    return p.n2?.reachable === true && p.n2?.name === "n2";
  }, { ms: 45_000 });
  const text = await dmonitor(["status", "--config", trees[0]!]);
  assert.match(text.stdout, /^ {2}CLOCK: clock of n2 is 1[12]\.\d s ahead of this node's/m);
  assert.match(text.stdout, /n2 \(127\.0\.153\.3:2929\) .* clock \+1[12]\.\d s$/m);
  const page = await (await fetch(`http://${addr(0)}:2929/`)).text();
  assert.match(page, /data-clock-problem="">clock of n3 is 4[45]\.\d s behind/);
});
