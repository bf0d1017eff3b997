/**
 * Configuration agreement (issue 17) on three real nodes: n3's tree differs (its tcp test runs
 * every 2 s, and it alone has a `web` test, which quorum 2 can never confirm). Every node reports
 * it in its JSON, `dmonitor status` and `/metrics`; `dmonitor config diff` prints the exact
 * difference; n3 logs the test it can never confirm.
 */
import assert from "node:assert/strict";
import { consensusKit } from "./consensus_util.ts";
import { dmonitor, until } from "./util.ts";
import { run } from "./ops_util.ts";

const kit = consensusKit("127.0.160");
const { SVC, addr, PORT } = kit;

interface Agreement {
  digest: string;
  peers: {
    address: string;
    node: string | null;
    digest: string | null;
    agrees: boolean | null;
    differenceCount: number;
    differences: { key: string; change: string; text: string }[];
  }[];
  unconfirmable: { host: string; test: string; nodes: string[]; message: string }[];
}

const agreementOf = async (i: number) =>
  ((await kit.statusOf(i)) as unknown as { agreement?: Agreement }).agreement ?? null;

Deno.test("a tree that differs on one node is reported on all three; config diff is exact", async () => {
  await using stack = new AsyncDisposableStack();
  const service = stack.use(new kit.Service());
  service.start();
  const hook = stack.use(kit.receiver());
  const tcp = `port: ${service.port}\n`;
  const c = stack.use(
    await kit.cluster(3, hook.url, (i) =>
      i < 2 ? { [`hosts.d/${SVC}/tcp`]: tcp } : {
        [`hosts.d/${SVC}/tcp`]: tcp + "interval: 2s\n",
        [`hosts.d/${SVC}/web`]: `kind: tcp\n${tcp}`,
      }),
  );
  const never = `${SVC}/web: configured on 1 node, quorum 2: it can never be confirmed`;
  const tcpDiff = (here: string, there: string) =>
    `${SVC}/tcp: interval: ${here === "n3" ? "2s" : "1s"} on ${here}, ` +
    `${there === "n3" ? "2s" : "1s"} on ${there}`;

  // Every node learns, over the heartbeat, whom it agrees with and what differs.
  const seen: (Agreement | null)[] = [];
  await until("every node to know its peers' configurations", async () => {
    for (let i = 0; i < 3; i++) seen[i] = await agreementOf(i);
    return seen.every((a) =>
      a !== null && a.peers.every((p) => p.agrees !== null && (p.agrees || p.differenceCount > 0))
    );
  }, { nodes: c.nodes });
  const [a1, a2, a3] = seen as Agreement[];
  assert.equal(a1!.digest, a2!.digest, "n1 and n2 run the same tree");
  assert.notEqual(a1!.digest, a3!.digest);
  const peer = (a: Agreement, i: number) =>
    a.peers.find((p) => p.address === `${addr(i)}:${PORT}`)!;
  assert.equal(peer(a1!, 1).agrees, true);
  assert.equal(peer(a2!, 0).agrees, true);
  for (const [a, self] of [[a1!, "n1"], [a2!, "n2"]] as const) {
    assert.deepEqual(peer(a, 2), {
      address: `${addr(2)}:${PORT}`,
      node: "n3",
      digest: a3!.digest,
      error: null,
      agrees: false,
      differenceCount: 2,
      differences: [
        { key: `${SVC}/tcp`, change: "differs", text: tcpDiff(self, "n3") },
        { key: `${SVC}/web`, change: "only-there", text: `${SVC}/web: only on n3` },
      ],
    });
  }
  for (const i of [0, 1]) {
    assert.deepEqual(peer(a3!, i).differences.map((d) => d.text), [
      tcpDiff("n3", `n${i + 1}`),
      `${SVC}/web: only on n3`,
    ]);
  }
  // All three know that only n3 runs web.
  for (const a of [a1!, a2!, a3!]) {
    assert.deepEqual(a.unconfirmable.map((u) => [u.message, u.nodes]), [[never, ["n3"]]]);
  }
  // Logged once by every node, within a heartbeat of the start.
  const neverRe = new RegExp(never.replaceAll(".", "\\.").replaceAll("/", "\\/"));
  await Promise.all(c.nodes.map((n) => n.waitFor(neverRe)));
  for (const n of c.nodes) assert.equal(n.lines.filter((l) => neverRe.test(l)).length, 1);

  // dmonitor status, on each node.
  for (let i = 0; i < 3; i++) {
    const r = await dmonitor(["status", "--url", `http://${addr(i)}:${PORT}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /CONFIGURATION DIFFERS on n\d/);
    assert.ok(r.stdout.includes(`  ${never}\n`), r.stdout);
    const a = seen[i]!;
    assert.ok(r.stdout.includes(`Configuration (digest ${a.digest})\n`), r.stdout);
    for (const p of a.peers.filter((p) => !p.agrees)) {
      assert.ok(
        r.stdout.includes(
          `  ${p.node} (${p.address})  DIFFERS (digest ${p.digest}): 2 entries differ\n`,
        ),
        r.stdout,
      );
      for (const d of p.differences) assert.ok(r.stdout.includes(`      ${d.text}\n`), r.stdout);
    }
  }

  // /metrics, on each node.
  for (let i = 0; i < 3; i++) {
    const m = await (await fetch(`http://${addr(i)}:${PORT}/metrics`)).text();
    const other = (j: number) => `peer="${addr(j)}:${PORT}"`;
    if (i < 2) {
      assert.ok(m.includes(`dmonitor_peer_config_agrees{${other(1 - i)}} 1\n`), m);
      assert.ok(m.includes(`dmonitor_peer_config_agrees{${other(2)}} 0\n`), m);
      assert.ok(m.includes(`dmonitor_peer_config_differences{${other(2)}} 2\n`), m);
      assert.ok(
        m.includes(
          `dmonitor_peer_config_differs{${other(2)},key="${SVC}/web",change="only-there"} 1\n`,
        ),
        m,
      );
    } else {
      assert.ok(m.includes(`dmonitor_peer_config_agrees{${other(0)}} 0\n`), m);
      assert.ok(m.includes(`dmonitor_peer_config_agrees{${other(1)}} 0\n`), m);
    }
    assert.ok(m.includes(`dmonitor_check_unconfirmable{host="${SVC}",test="web"} 1\n`), m);
    const lint = await run("promtool", ["check", "metrics"], { stdin: m });
    assert.equal(lint.code, 0, `promtool:\n${lint.stdout}${lint.stderr}`);
  }

  // The page, on n1: a banner, and the section with n3's differences.
  const page = await (await fetch(`http://${addr(0)}:${PORT}/`)).text();
  assert.match(
    page,
    /id="agreement-banner"[^>]*>CONFIGURATION DIFFERS on n3\. 1 test can never be confirmed\./,
  );
  assert.ok(page.includes(`<h2>Configuration (digest ${a1!.digest})</h2>`), page);
  assert.ok(page.includes(`${SVC}/web: only on n3`), page);
  assert.ok(page.includes(never), page);

  // dmonitor config diff: this tree against the peer's, as the peer reports it.
  const diff3 = await dmonitor(["config", "diff", "--config", c.trees[0]!, "n3"]);
  assert.equal(diff3.stderr, "");
  assert.equal(diff3.code, 2);
  assert.equal(
    diff3.stdout,
    `n1 (this tree, digest ${a1!.digest}) and n3 (as it reports it, digest ${
      a3!.digest
    }) differ in 2 of 3 entries:
  ${SVC}/tcp: interval: 1s on n1, 2s on n3
  ${SVC}/web: only on n3
      runs: built-in tcp
      interval: 1s
      timeout: 900ms
      retries: 0
      warning: pass
      unknown: fail
      param port: ${service.port}
`,
  );
  const diff2 = await dmonitor(["config", "diff", "--config", c.trees[0]!, `${addr(1)}:${PORT}`]);
  assert.equal(diff2.code, 0, diff2.stderr);
  assert.equal(
    diff2.stdout,
    `n1 (this tree, digest ${a1!.digest}) and n2 (as it reports it, digest ${
      a1!.digest
    }) agree on all 2 entries\n`,
  );
  const unknown = await dmonitor(["config", "diff", "--config", c.trees[0]!, "n9"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /"n9" is not a peer in .*nodes\.txt \(peers: n2, n3\)/);
  const usage = await dmonitor(["config", "diff", "--config", c.trees[0]!]);
  assert.equal(usage.code, 64);

  // n3 gets n1's tree: every node agrees again and web is gone.
  await Deno.writeTextFile(`${c.trees[2]}/hosts.d/${SVC}/tcp`, tcp);
  await Deno.remove(`${c.trees[2]}/hosts.d/${SVC}/web`);
  const r = await dmonitor(["config", "check", "--config", c.trees[2]!]);
  assert.equal(r.code, 0, r.stderr);
  // SIGHUP reloads (lib/cli/run.ts).
  Deno.kill(c.nodes[2]!.pid, "SIGHUP");
  await until("every node to agree", async () => {
    const all = await Promise.all([0, 1, 2].map(agreementOf));
    return all.every((a) => a!.peers.every((p) => p.agrees) && a!.unconfirmable.length === 0);
  }, { nodes: c.nodes });
  await c.nodes[0]!.waitFor(/peer configuration agrees again/);
  await c.nodes[2]!.waitFor(/web: can be confirmed again/);
});
