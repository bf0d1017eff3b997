import assert from "node:assert/strict";
import { runPlugin } from "./run.ts";
import { isSubreaper } from "./reaper.ts";
import { isAlive, pluginFixture, readPids } from "./testing.ts";

Deno.test("reaper: a sweep ends a plugin's orphans but never the node's other children", async () => {
  await using fx = await pluginFixture();
  // What the built-in ping check starts: a detached child (its own session) without a plugin's
  // environment; and a plain child in the node's own session.
  const detached = new Deno.Command("sleep", {
    args: ["30"],
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  const plain = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" })
    .spawn();
  const pidFile = fx.pidFile();
  try {
    const r = await runPlugin({
      host: "h",
      test: "double_fork",
      path: fx.path("check_double_fork"),
      params: { pidfile: pidFile },
      timeoutMs: 5_000,
    });
    assert.equal(r.status, "OK", r.output);
    assert.ok(isSubreaper(), "the runner made the process a child subreaper");
    const pids = await readPids(pidFile);
    assert.deepEqual(pids.filter(isAlive), [], "the plugin's daemon was ended");
    assert.ok(isAlive(detached.pid), "a detached child without a plugin's environment lives");
    assert.ok(isAlive(plain.pid), "a child in the node's session lives");
  } finally {
    detached.kill("SIGKILL");
    plain.kill("SIGKILL");
    await Promise.all([detached.status, plain.status]);
  }
});
