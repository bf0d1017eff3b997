/**
 * The e2e helpers themselves: a node that cannot start fails the wait at once, with its stderr,
 * and a start-up wait that fails leaves no process behind. Uses 127.0.104.0/24.
 */
import assert from "node:assert/strict";
import { startNode, writeTree } from "./util.ts";

const alive = (pid: number) => {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\S+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
};

Deno.test("startNode: a node that exits fails the wait at once with its stderr tail", async () => {
  const tree = await writeTree({
    "dmonitor.yaml": "listen: 127.0.104.1:2929\nstate_dir: state\ninterval: nope\n",
  });
  const started = Date.now();
  await assert.rejects(
    startNode(["--config", tree], { timeoutMs: 60_000 }),
    (e: Error) => {
      assert.match(e.message, /exited \(code 1\) before logging \/node started\//);
      assert.match(e.message, /refusing to start/, "the stderr tail is in the error");
      return true;
    },
  );
  // Far below the 60 s timeout: the exit, not the timeout, ended the wait.
  assert.ok(Date.now() - started < 30_000);
});

Deno.test("startNode: a wait that times out kills the node before throwing", async () => {
  const tree = await writeTree({
    "dmonitor.yaml": "listen: 127.0.104.2:2929\nstate_dir: state\ninterval: 1s\n",
  });
  let pid = 0;
  await assert.rejects(
    startNode(["--config", tree], { ready: /a line that never comes/, timeoutMs: 3000 }).catch(
      (e: Error) => {
        pid = Number(/pid (\d+)/.exec(e.message)?.[1] ?? 0);
        throw e;
      },
    ),
    /timed out after 3000 ms waiting for \/a line that never comes\//,
  );
  assert.ok(pid > 0, "the error names the process");
  assert.equal(alive(pid), false, "killed and reaped before the error was thrown");
});
