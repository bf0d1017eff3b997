/**
 * `dmonitor alert test` and `dmonitor outbox` as a user runs them, against a real webhook receiver
 * and the real state database of a node that raised an incident.
 */
import assert from "node:assert/strict";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

Deno.test("alert test: every channel reports; a failing one makes exit 1", async () => {
  const bodies: { kind: string }[] = [];
  let fail = false;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      bodies.push(await req.json());
      return new Response(fail ? "no" : "ok", { status: fail ? 500 : 200 });
    },
  );
  const tree = await writeTree({
    "alert.d/ops.webhook": `http://127.0.0.1:${server.addr.port}/hook\n`,
    "state/.keep": "",
    "dmonitor.yaml": "state_dir: state\n",
  });
  const ok = await dmonitor(["alert", "test", "--config", tree]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /webhook/i);
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0]!.kind, "test");
  fail = true;
  const bad = await dmonitor(["alert", "test", "--config", tree]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /500/);
  const usage = await dmonitor(["alert", "tset", "--config", tree]);
  assert.equal(usage.code, 64);
});

Deno.test("outbox lists what could not be delivered; retry queues it again", async () => {
  const tree = await writeTree({
    "dmonitor.yaml": "listen: 127.0.120.10:29292\nstate_dir: state\ninterval: 1s\ntimeout: 900ms\n",
    "hosts.d/127.0.0.1/svc": "",
    "plugins/check_svc": "#!/bin/sh\necho FAIL down on purpose\n",
  });
  const empty = await dmonitor(["outbox", "--config", tree]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /Outbox empty/);
  {
    await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
    await node.waitFor(/no alert target configured/);
  }
  const listed = await dmonitor(["outbox", "--config", tree]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /failed/);
  assert.match(listed.stdout, /DOWN 127\.0\.0\.1 svc/);
  const retry = await dmonitor(["outbox", "retry", "--config", tree]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /^\d+ messages? queued again$/m);
});
