/**
 * Alertmanager end to end: real `dmonitor run` processes (one node, then three on 127.0.115.11-13)
 * with a plugin that fails while a flag file exists, posting to a real Prometheus Alertmanager
 * (Debian's prometheus-alertmanager) on 127.0.115.x. The alert must be active in Alertmanager's
 * API while the outage lasts, once, and gone (resolved) after the recovery.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  alertmanagerMissing,
  type ListedAlert,
  startAlertmanager,
  until,
} from "../lib/alerts/alertmanager_testing.ts";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

const missing = await alertmanagerMissing();
if (missing) console.warn(`SKIPPING Alertmanager end-to-end tests: ${missing}`);
const ignore = missing !== null;
const KEY = "alertmanager-test-key-0123456789abcdef";
const HOST = "127.0.115.30";

/** A plugin that fails while `<flag>` exists (absolute path: plugins get no environment). */
function flagPlugin(flag: string): string {
  return `#!/bin/sh\nif [ -e ${flag} ]; then echo "FAIL flag is set"; exit 2; fi\necho "OK fine"\n`;
}

/** A directory every user can read (plugins run as nobody under root) holding the flag file. */
async function flagDir(): Promise<{ flag: string; set(): Promise<void>; clear(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "dmonitor-am-flag-" });
  await Deno.chmod(dir, 0o755);
  const flag = join(dir, "fail");
  return {
    flag,
    set: () => Deno.writeTextFile(flag, "1"),
    clear: () => Deno.remove(flag).catch(() => {}),
  };
}

const down = (alerts: ListedAlert[]) =>
  alerts.filter((a) => a.labels.alertname === "dmonitor_down" && a.status.state === "active");

async function singleNode(amUrl: string, flag: string, addr: string) {
  const state = await Deno.makeTempDir({ prefix: "dmonitor-state-" });
  const tree = await writeTree({
    "dmonitor.yaml": `node: solo\nlisten: ${addr}:2929\nstate_dir: ${state}\n` +
      "interval: 1s\ntimeout: 900ms\nquorum: 1\n",
    [`hosts.d/${HOST}/svc`]: "",
    "plugins/check_svc": flagPlugin(flag),
    "alert.d/am.alertmanager": `# the test's Alertmanager\n${amUrl}\n`,
  });
  return tree;
}

Deno.test({
  name:
    "one node: config check counts it, alert test posts, the outage is active in Alertmanager and resolved after",
  ignore,
  fn: async () => {
    await using am = await startAlertmanager("127.0.115.1");
    const f = await flagDir();
    const tree = await singleNode(am.url, f.flag, "127.0.115.10");
    const check = await dmonitor(["config", "check", "--config", tree]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, / alert targets? \(.*\b1 alertmanager\)$/m);
    const test = await dmonitor(["alert", "test", "--config", tree]);
    assert.equal(test.code, 0, test.stdout + test.stderr);
    assert.match(test.stdout, /^ok\s+alertmanager:am\s+posted 1 of 1 accepted.*resolved 1 of 1/m);
    assert.deepEqual(await am.alerts(), [], "the test alert is resolved");

    await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
    await node.waitFor(/test=svc status=OK/);
    await f.set();
    await until("the alert in Alertmanager", async () => down(await am.alerts()).length > 0);
    const [alert] = down(await am.alerts());
    assert.deepEqual(alert!.labels, {
      alertname: "dmonitor_down",
      host: HOST,
      test: "svc",
      severity: "critical",
    });
    assert.match(alert!.annotations.summary!, new RegExp(`^DOWN ${HOST} svc`));
    assert.match(alert!.annotations.output_solo!, /^FAIL flag is set/);
    assert.ok(Date.parse(alert!.endsAt) > Date.now(), `endsAt ${alert!.endsAt} is ahead`);

    await f.clear();
    await until("the alert resolved", async () => (await am.alerts()).length === 0);
    await node.waitFor(/alert delivered.*kind=recovered/);
  },
});

Deno.test({
  name:
    "one node, Alertmanager down at the start: the outbox holds the alert and delivers it when it is back",
  ignore,
  fn: async () => {
    const probe = await startAlertmanager("127.0.115.2");
    const port = probe.port;
    await probe.stop();
    const f = await flagDir();
    const tree = await singleNode(`http://127.0.115.2:${port}/`, f.flag, "127.0.115.20");
    await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
    await node.waitFor(/test=svc status=OK/);
    await f.set();
    await node.waitFor(/alert delivery failed, will retry/);
    const outbox = await dmonitor(["outbox", "--config", tree]);
    assert.match(outbox.stdout, /pending.*alertmanager:am/s, outbox.stdout);
    await using am = await startAlertmanager("127.0.115.2", port);
    // The first retry is due 30 s after the failed attempt.
    await until("the held alert", async () => down(await am.alerts()).length === 1, 120_000);
    await f.clear();
    await until("the alert resolved", async () => (await am.alerts()).length === 0, 120_000);
  },
});

Deno.test({
  name:
    "three nodes: the outage appears once in Alertmanager, with no node in its labels, and is resolved after",
  ignore,
  fn: async () => {
    await using am = await startAlertmanager("127.0.115.3");
    const f = await flagDir();
    const addr = (i: number) => `127.0.115.${11 + i}`;
    const all = [0, 1, 2].map((i) => `${addr(i)}:2929`).join("\n") + "\n";
    const nodes: NodeProcess[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const state = await Deno.makeTempDir({ prefix: "dmonitor-state-" });
        const tree = await writeTree({
          // Named by their addresses: a nodes.txt line without a name names the peer by its host.
          "dmonitor.yaml": `node: ${addr(i)}\nlisten: ${addr(i)}:2929\nstate_dir: ${state}\n` +
            "interval: 1s\ntimeout: 900ms\nquorum: 2\n",
          "nodes.txt": all,
          "peer.key": KEY,
          [`hosts.d/${HOST}/svc`]: "",
          "plugins/check_svc": flagPlugin(f.flag),
          "alert.d/am.alertmanager": `${am.url}\n`,
        });
        nodes.push(new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" }));
      }
      await Promise.all(nodes.map((n) => n.waitFor(/test=svc status=OK/)));
      await f.set();
      await until("the alert in Alertmanager", async () => down(await am.alerts()).length > 0);
      // Long enough for any duplicate (several settle times at 1 s checks) to land.
      await Promise.any(nodes.map((n) => n.waitFor(/alert delivered.*kind=down/)));
      await new Promise((r) => setTimeout(r, 4000));
      const alerts = down(await am.alerts());
      assert.equal(alerts.length, 1, JSON.stringify(alerts));
      assert.deepEqual(alerts[0]!.labels, {
        alertname: "dmonitor_down",
        host: HOST,
        test: "svc",
        severity: "critical",
      });
      const outputs = Object.keys(alerts[0]!.annotations).filter((k) => k.startsWith("output_"));
      assert.ok(outputs.length >= 2, `votes of the confirming nodes: ${outputs}`);
      await f.clear();
      await until("the alert resolved", async () => (await am.alerts()).length === 0);
    } finally {
      await Promise.all(nodes.map((n) => n[Symbol.asyncDispose]()));
    }
  },
});
