/**
 * Plugin output, whole: stderr beside stdout, perfdata parsed and shown by `dmonitor check`,
 * `/v1/status` and `/metrics` (validated by `promtool check metrics`), and Debian's real
 * check_disk with a bad flag (its usage text is not perfdata, its stderr is the reason).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, ROOT, until, writeTree } from "./util.ts";
import { run } from "./ops_util.ts";

const ADDR = "127.0.130.2:2929";
const PLUGIN = await Deno.readTextFile(join(ROOT, "testdata/plugins/check_perf_stderr"));
const CHECK_DISK = "/usr/lib/nagios/plugins/check_disk";

Deno.test("dmonitor check: a failing plugin's stderr is in the output, its perfdata listed", async () => {
  const tree = await writeTree({ "plugins/check_perf_stderr": PLUGIN });
  const r = await dmonitor(["check", "--config", tree, "127.0.130.1", "perf_stderr"]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stdout,
    [
      "127.0.130.1 perf_stderr CRITICAL PGSQL CRITICAL - 0 of 3 replicas / replicas: none connected" +
      ' [stderr: FATAL: password authentication failed for user "monitor"]',
      "  perfdata 'replica lag'=12.5s;5;10;0",
      "  perfdata conns=3;50;90;0;100",
      "  perfdata size=2643MB;;;0",
      "",
    ].join("\n"),
  );
});

Deno.test("a running node: perfdata in /v1/status and as dmonitor_check_perfdata, promtool-clean", async () => {
  const state = await Deno.makeTempDir();
  const tree = await writeTree({
    "dmonitor.yaml": `listen: ${ADDR}\nstate_dir: ${state}\ninterval: 1s\ntimeout: 900ms\n`,
    "hosts.d/127.0.130.1/perf_stderr": "",
    "plugins/check_perf_stderr": PLUGIN,
    "hosts.d/127.0.130.1/odd": "",
    // A label Prometheus must see escaped, a repeated label, and garbage to skip.
    "plugins/check_odd": `#!/bin/sh\necho 'ODD OK | '"'"'a "q" \\\\ b'"'"'=1 x=2 x=3 junk'\n`,
  });
  await using node = new NodeProcess(["--config", tree]);
  await node.waitFor(/test=perf_stderr status=FAIL/);
  await node.waitFor(/test=odd status=OK/);

  let view: { checks: { test: string; output: string; perfdata?: unknown[] }[] } | undefined;
  await until("both checks in /v1/status", async () => {
    const res = await fetch(`http://${ADDR}/v1/status`);
    view = await res.json();
    return view!.checks.every((c) => (c.perfdata?.length ?? 0) > 0);
  }, { nodes: [node] });
  const perf = view!.checks.find((c) => c.test === "perf_stderr")!;
  assert.match(perf.output, /\[stderr: FATAL: password authentication failed/);
  assert.deepEqual(perf.perfdata, [
    { label: "replica lag", value: 12.5, unit: "s", warn: "5", crit: "10", min: 0, max: null },
    { label: "conns", value: 3, unit: "", warn: "50", crit: "90", min: 0, max: 100 },
    { label: "size", value: 2643, unit: "MB", warn: null, crit: null, min: 0, max: null },
  ]);

  const page = await (await fetch(`http://${ADDR}/`)).text();
  assert.match(page, /<ul class="perf"><li>&#39;replica lag&#39;=12.5s;5;10;0<\/li>/);

  const text = await (await fetch(`http://${ADDR}/metrics`)).text();
  const r = await run("promtool", ["check", "metrics"], { stdin: text });
  assert.equal(r.code, 0, `promtool:\n${r.stdout}${r.stderr}\n--- metrics ---\n${text}`);
  assert.equal(r.stdout + r.stderr, "", "no lint findings");
  const perfLines = text.split("\n").filter((l) => l.startsWith("dmonitor_check_perfdata{")).sort();
  assert.deepEqual(perfLines, [
    'dmonitor_check_perfdata{host="127.0.130.1",test="odd",label="a \\"q\\" \\\\ b",unit=""} 1',
    'dmonitor_check_perfdata{host="127.0.130.1",test="odd",label="x",unit=""} 2',
    'dmonitor_check_perfdata{host="127.0.130.1",test="perf_stderr",label="conns",unit=""} 3',
    'dmonitor_check_perfdata{host="127.0.130.1",test="perf_stderr",label="replica lag",unit="s"} 12.5',
    'dmonitor_check_perfdata{host="127.0.130.1",test="perf_stderr",label="size",unit="MB"} 2643',
  ]);
});

const haveCheckDisk = await Deno.stat(CHECK_DISK).then(() => true, () => false);

Deno.test({
  name: "Debian's check_disk -H: the reason from stderr is shown, the usage text is no perfdata",
  ignore: !haveCheckDisk,
  fn: async () => {
    const tree = await writeTree({
      "hosts.d/127.0.130.1/disk": `plugin: ${CHECK_DISK}\nargs: ["-H"]\n`,
    });
    const r = await dmonitor(["check", "--config", tree, "127.0.130.1", "disk"]);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 1, `no perfdata lines:\n${r.stdout}`);
    assert.match(lines[0]!, /^127\.0\.130\.1 disk UNKNOWN .*Usage:.*\{-p path \| -x device\}/);
    assert.match(lines[0]!, /\[stderr: \S*check_disk: invalid option -- 'H'\]$/);
  },
});
if (!haveCheckDisk) {
  console.log(`perfdata_test: ${CHECK_DISK} missing (apt-get install monitoring-plugins-basic)`);
}
