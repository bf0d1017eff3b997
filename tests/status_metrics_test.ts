/**
 * `/metrics` as Prometheus reads it: validated by `promtool check metrics` (Debian `prometheus`),
 * from a real node process and from a view with every kind of data (incidents, peers, sites).
 */
import assert from "node:assert/strict";
import { NodeProcess, writeTree } from "./util.ts";
import { run } from "./ops_util.ts";
import { Hono } from "hono";
import { METRICS, REGISTRY } from "../lib/metrics/mod.ts";
import { parseStatusSettings, statusRoutes } from "../lib/status/mod.ts";
import { sampleView } from "../lib/status/testing.ts";

const ADDR = "127.0.105.2:2929";

async function promtool(text: string): Promise<void> {
  const r = await run("promtool", ["check", "metrics"], { stdin: text });
  assert.equal(
    r.code,
    0,
    `promtool check metrics failed:\n${r.stdout}${r.stderr}\n--- metrics ---\n${text}`,
  );
  assert.equal(r.stdout + r.stderr, "", "no lint findings");
}

Deno.test("promtool accepts /metrics of a running node with checks up and down", async () => {
  const state = await Deno.makeTempDir();
  const tree = await writeTree({
    "dmonitor.yaml": `listen: ${ADDR}\nstate_dir: ${state}\ninterval: 1s\ntimeout: 900ms\n`,
    "hosts.d/127.0.105.1/up": "",
    "hosts.d/127.0.105.1/down": "",
    "plugins/check_up": "#!/bin/sh\necho OK fine\n",
    "plugins/check_down": "#!/bin/sh\necho FAIL broken\n",
    "hosts.d/127.0.105.1/crit": "",
    "plugins/check_crit": "#!/bin/sh\necho 'DISK CRITICAL - 99%'\nexit 2\n",
  });
  await using node = new NodeProcess(["--config", tree]);
  await node.waitFor(/test=up status=OK/);
  await node.waitFor(/test=down status=FAIL/);
  await node.waitFor(/test=crit status=FAIL/);
  const res = await fetch(`http://${ADDR}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  await promtool(text);
  assert.match(text, /^dmonitor_check_up\{host="127\.0\.105\.1",test="up"\} 1$/m);
  assert.match(text, /^dmonitor_check_up\{host="127\.0\.105\.1",test="down"\} 0$/m);
  assert.match(text, /^dmonitor_check_state\{host="127\.0\.105\.1",test="down",state="FAIL"\} 1$/m);
  assert.match(
    text,
    /^dmonitor_check_duration_seconds\{host="127\.0\.105\.1",test="up"\} \d+(\.\d+)?$/m,
  );
  assert.match(text, /^# TYPE dmonitor_plugin_timeouts_total counter$/m);
  assert.match(
    text,
    /^dmonitor_check_state\{host="127\.0\.105\.1",test="crit",state="CRITICAL"\} 1$/m,
  );
  assert.match(
    text,
    /^dmonitor_check_runs_total\{status="OK",state="OK"\} [1-9]\d*$/m,
    "the node counts its runs",
  );
  assert.match(text, /^dmonitor_check_runs_total\{status="FAIL",state="FAIL"\} [1-9]\d*$/m);
  assert.match(
    text,
    /^dmonitor_check_runs_total\{status="FAIL",state="CRITICAL"\} [1-9]\d*$/m,
    "CRITICAL is not folded into FAIL",
  );
  assert.match(text, /^dmonitor_outbox_depth 0$/m);
});

Deno.test("promtool accepts metrics with incidents, peers, sites and counters other parts increment", async () => {
  METRICS.tentacleFiles.inc({ direction: "received" }, 3);
  METRICS.syncPulls.inc({ site: "plant-7", result: "ok" });
  METRICS.peerRequests.inc({ peer: "10.0.0.2:2929", result: "error" });
  const view = sampleView();
  const app = new Hono();
  statusRoutes({
    source: { view: () => view },
    access: { settings: parseStatusSettings(undefined, []), token: null },
    registry: REGISTRY,
  })(app);
  const res = await app.request("/metrics", {}, {
    remoteAddr: { hostname: "127.0.105.1", port: 1, transport: "tcp" },
  });
  const text = await res.text();
  await promtool(text);
  for (
    const re of [
      /^dmonitor_tentacle_files_total\{direction="received"\} 3$/m,
      /^dmonitor_sync_pulls_total\{site="plant-7",result="ok"\} 1$/m,
      /^dmonitor_peer_up\{peer="10\.0\.0\.3:2929"\} 0$/m,
      /^dmonitor_peer_errors_total\{peer="10\.0\.0\.3:2929"\} 17$/m,
      /^dmonitor_incidents_open\{phase="down"\} 1$/m,
      /^dmonitor_sync_lag_seconds\{site="plant-7"\} 95$/m,
      /^dmonitor_build_info\{version="0\.1\.0",node="alpha",mode="cluster"\} 1$/m,
    ]
  ) assert.match(text, re);
});
