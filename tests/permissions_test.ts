/**
 * Deno's own wording never reaches a user, and the release permissions allow any state_dir: Deno
 * refuses writes under /dev and /proc to anything short of --allow-all, whatever --allow-write says
 * (its special-file rule), so a state_dir on /dev/shm needs the release build's --allow-all.
 */
import assert from "node:assert/strict";
import { MAIN, writeTree } from "./util.ts";
import { releasePermissions } from "./ops_util.ts";

async function dm(perms: string[], args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("the release permissions accept a state_dir on /dev/shm", async () => {
  const state = `/dev/shm/dmonitor-perm-test-${Deno.pid}`;
  const tree = await writeTree({ "dmonitor.yaml": `state_dir: ${state}\n` });
  try {
    const r = await dm(await releasePermissions(), ["outbox", "--config", tree]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Outbox empty: nothing pending or failed.\n");
  } finally {
    await Deno.remove(state, { recursive: true }).catch(() => {});
  }
});

Deno.test("refused file access reads 'permission denied', never Deno's --allow-all advice", async () => {
  // Narrower permissions than the release's: what a hand-run `deno run --allow-read ...` gets.
  const narrow = ["--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
  const state = `/dev/shm/dmonitor-perm-test-n${Deno.pid}`;
  const tree = await writeTree({ "dmonitor.yaml": `state_dir: ${state}\n` });
  const r = await dm(narrow, ["outbox", "--config", tree]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `dmonitor: Cannot open the state database ${state}/state.db: permission denied\n`,
  );
  const init = await dm(narrow, ["init", "/proc/foo"]);
  assert.equal(init.code, 1);
  assert.equal(init.stderr, "dmonitor init: Cannot open /proc/foo: permission denied\n");
  const all = await dm(["-A"], ["init", "/proc/foo"]);
  assert.equal(all.code, 1);
  assert.equal(
    all.stderr,
    "dmonitor init: cannot write the configuration tree /proc/foo: no such file or directory\n",
  );
});
