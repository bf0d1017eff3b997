/**
 * `dmonitor status` on the node itself is always allowed: the node writes a local token to its
 * state directory (mode 0600) and the CLI presents it, whatever `listen` and `status.allow` say.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";

Deno.test("dmonitor status on the node: allowed through the node's local token even when status.allow excludes it", async () => {
  const state = await Deno.makeTempDir({ prefix: "dmonitor-local-" });
  const tree = await writeTree({
    // Nobody is allowed by address: only a token opens the status routes.
    "dmonitor.yaml": `node: solo\nlisten: 127.0.90.40:2929\nstate_dir: ${state}\n` +
      "interval: 2s\ntimeout: 1s\nstatus:\n  allow: [127.0.90.99]\n",
    "nodes.txt": "",
    "hosts.d/127.0.90.40/tcp": "port: 2929\n",
  });
  await using node = new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" });
  await node.waitFor(/node started/, 30_000);
  const plain = await fetch("http://127.0.90.40:2929/v1/status");
  await plain.body?.cancel();
  assert.equal(plain.status, 403, "an address outside status.allow without a token is refused");
  const info = await Deno.stat(join(state, "status.token"));
  assert.equal(info.mode! & 0o777, 0o600, "the token is readable by the node's user only");
  const r = await dmonitor(["status", "--config", tree]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /solo/);
});
