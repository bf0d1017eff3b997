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
    acknowledged?: { by: string; origin: string; reason: string } | null;
    notices?: { kind: string; state: string; lastError: string | null }[];
  }[];
  peers: { name: string | null; clockOffsetMs?: number | null; clockProblem?: string | null }[];
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
