/**
 * Consensus end to end, outages: exactly one down and one recovery notification, a broken view
 * notifies nobody. This file owns 127.0.103.0/24 (tests/util.ts); the fixture is
 * tests/consensus_util.ts.
 */
import assert from "node:assert/strict";
import { consensusKit } from "./consensus_util.ts";
import { until } from "./util.ts";

const {
  SVC,
  receiver,
  cluster,
  tcpCluster,
  statusOf,
  logged,
  allKnowNotified,
  allClosed,
  exactlyOne,
  runsMore,
} = consensusKit("127.0.103");

for (const n of [3, 5]) {
  Deno.test(`${n} nodes: a real outage gives exactly one down and one recovery notification`, async () => {
    await using t = await tcpCluster(n);
    const { service, hook, c } = t;
    const every = c.nodes.map((_, i) => i);

    service.stop();
    await until("the down notification", () => hook.kinds("down").length >= 1, { nodes: c.nodes });
    const notifier = await allKnowNotified(c, every);
    exactlyOne(hook, c, "down");
    const down = hook.kinds("down")[0]!;
    assert.equal(down.host, SVC);
    assert.equal(down.test, "tcp");
    assert.equal(down.notifier, notifier);
    assert.ok(down.confirmed_by >= 2, `confirmed by ${down.confirmed_by}`);

    service.start();
    await until("the recovery notification", () => hook.kinds("recovered").length >= 1, {
      nodes: c.nodes,
    });
    await allClosed(c, every, down.incident_id);
    exactlyOne(hook, c, "recovered");
    assert.equal(hook.kinds("down").length, 1);
    assert.equal(hook.got.length, 2, "nothing else was sent");
  });
}

Deno.test("one node's broken view: no notification over many cycles, and it shows its view differs", async () => {
  await using hook = receiver();
  await using c = await cluster(3, hook.url, (i) => ({
    [`hosts.d/${SVC}/svc`]: "",
    // The plugin fails only on n2.
    "plugins/check_svc": i === 1
      ? "#!/bin/sh\necho FAIL broken only here\n"
      : "#!/bin/sh\necho OK fine\n",
  }));
  await until("n2 to see its view differs", async () => {
    const s = await statusOf(1);
    return s.checks.some((x) => x.test === "svc" && x.phase === "local-only");
  }, { nodes: c.nodes });
  // Many cycles: n2 runs its failing check (and asks its peers) three more times.
  await runsMore(1, "svc", 3, c);
  assert.equal(hook.got.length, 0, JSON.stringify(hook.got));
  const s = await statusOf(1);
  assert.equal(s.checks.find((x) => x.test === "svc")!.phase, "local-only");
  assert.equal((await statusOf(0)).checks.find((x) => x.test === "svc")!.status, "OK");
  assert.ok(c.nodes[1]!.lines.some((l) => /local-only|view differs/.test(l)), "logged on n2");
  assert.equal(logged(c.nodes, /dmonitor\.quorum sending down notice/), 0);
});
