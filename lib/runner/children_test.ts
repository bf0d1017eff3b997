import assert from "node:assert/strict";
import { ownChildren } from "./children.ts";
import { posixSpawn } from "./spawn.ts";

Deno.test("ownChildren: children of the main thread and of the blocking pool's threads, read again and again", async () => {
  const sleeper = () =>
    new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" }).spawn();
  const own = [sleeper(), sleeper()];
  // posix_spawn without a user switch runs on Deno's blocking pool: children of other threads.
  const pooled = await Promise.all(
    Array.from(
      { length: 8 },
      () => posixSpawn({ path: "/bin/sleep", args: ["30"], env: {}, runAs: null }, 10, 10),
    ),
  );
  const pids = [...own.map((c) => c.pid), ...pooled.map((c) => c.pid)];
  try {
    for (let i = 0; i < 3; i++) {
      const seen = new Set(ownChildren());
      for (const pid of pids) assert.ok(seen.has(pid), `pass ${i}: child ${pid} listed`);
    }
  } finally {
    for (const pid of pids) Deno.kill(pid, "SIGKILL");
    await Promise.all([...own.map((c) => c.status), ...pooled.map((c) => c.status)]);
  }
  const after = new Set(ownChildren());
  for (const pid of pids) assert.ok(!after.has(pid), `child ${pid} reaped, no longer listed`);
});
