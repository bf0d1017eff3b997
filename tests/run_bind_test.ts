/**
 * `dmonitor run` binds its port before it creates any state: with the port taken it exits with
 * one clear line naming the address, and the state directory holds no state.db (nor a token).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dmonitor, NodeProcess, writeTree } from "./util.ts";
import { giveToServerUser } from "../lib/privilege/testing.ts";

Deno.test("dmonitor run with its port taken: a clear error and no state.db", async () => {
  using _taken = Deno.listen({ hostname: "127.0.171.2", port: 2929 });
  const state = await Deno.makeTempDir({ prefix: "dmonitor-bind-state-" });
  await giveToServerUser(state);
  const tree = await writeTree({
    "dmonitor.yaml": `node: bind-node\nlisten: 127.0.171.2:2929\nstate_dir: ${state}\n`,
    "hosts.d/127.0.171.3/web": "",
    "plugins/check_web": "#!/bin/sh\necho OK\n",
  });
  const r = await dmonitor(["run", "--config", tree]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /^dmonitor run: Cannot listen on 127\.0\.171\.2:2929 for peers: .*(in use|AddrInUse)/im,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  const left = [];
  for await (const e of Deno.readDir(state)) left.push(e.name);
  assert.deepEqual(left, [], `nothing created in ${state}`);
  await Deno.remove(state, { recursive: true });
  await Deno.remove(tree, { recursive: true });
});

Deno.test("dmonitor run on a free port creates its state.db", async () => {
  const state = await Deno.makeTempDir({ prefix: "dmonitor-bind-state-" });
  await giveToServerUser(state);
  const tree = await writeTree({
    "dmonitor.yaml": `node: bind-node\nlisten: 127.0.171.4:2929\nstate_dir: ${state}\n`,
  });
  {
    await using node = new NodeProcess(["--config", tree]);
    await node.waitFor(/node started/);
    await Deno.stat(join(state, "state.db"));
  }
  await Deno.remove(state, { recursive: true });
  await Deno.remove(tree, { recursive: true });
});
