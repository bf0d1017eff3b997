import assert from "node:assert/strict";
import { trustProblemSync } from "./trust.ts";
import { trustProblemReplayed } from "./trust_replay.ts";
import { trustedTempDir } from "./testing.ts";
import { runPlugin } from "./run.ts";

const uid = Deno.uid();
const o = { nodeUid: uid, runAs: uid === 0 ? { uid: 65534, gid: 65534 } : null };

/** The replayed check and the full walk agree after each change, the replay going first. */
function agree(path: string, what: string): string | null {
  const replayed = trustProblemReplayed(path, o);
  assert.equal(replayed, trustProblemSync(path, o), what);
  // A second look, now from whatever the first one remembered.
  assert.equal(trustProblemReplayed(path, o), replayed, `${what}, again`);
  return replayed;
}

Deno.test("trust replay: every change on the path is seen at the next check", async () => {
  const top = await trustedTempDir("dmonitor-replay-");
  try {
    const dir = `${top}/plugins`;
    const other = `${top}/other`;
    await Deno.mkdir(dir, { mode: 0o755 });
    await Deno.mkdir(other, { mode: 0o755 });
    await Deno.chmod(dir, 0o755);
    await Deno.chmod(other, 0o755);
    const plugin = `${dir}/check_x`;
    await Deno.writeTextFile(plugin, "#!/bin/sh\necho OK\n", { mode: 0o755 });
    await Deno.chmod(plugin, 0o755);
    const link = `${dir}/check_link`;
    await Deno.symlink(plugin, link);

    assert.equal(agree(plugin, "trusted"), null);
    await Deno.chmod(dir, 0o775);
    assert.match(agree(plugin, "directory made group-writable")!, /writable by group/);
    await Deno.chmod(dir, 0o755);
    assert.equal(agree(plugin, "directory fixed"), null);
    await Deno.chmod(plugin, 0o757);
    assert.match(agree(plugin, "file made world-writable")!, /writable by others/);
    await Deno.chmod(plugin, 0o755);
    assert.equal(agree(plugin, "file fixed"), null);
    await Deno.chmod(plugin, 0o4755);
    assert.match(agree(plugin, "setuid bit")!, /setuid/);
    await Deno.chmod(plugin, 0o755);

    // Replaced under the same name: a directory of others, a file of another user.
    await Deno.rename(dir, `${top}/old`);
    await Deno.mkdir(dir, { mode: 0o777 });
    await Deno.chmod(dir, 0o777);
    await Deno.writeTextFile(plugin, "#!/bin/sh\necho OK\n", { mode: 0o755 });
    assert.match(agree(plugin, "directory replaced")!, /writable by group and others/);
    await Deno.remove(dir, { recursive: true });
    await Deno.rename(`${top}/old`, dir);
    assert.equal(agree(plugin, "directory back"), null);
    if (uid === 0) {
      await Deno.chown(plugin, 65534, 65534);
      assert.match(agree(plugin, "file given to nobody")!, /owned by uid 65534/);
      await Deno.chown(plugin, 0, 0);
      assert.equal(agree(plugin, "file given back"), null);
    }
    await Deno.remove(plugin);
    assert.match(agree(plugin, "file removed")!, /does not exist/);
    await Deno.writeTextFile(plugin, "#!/bin/sh\necho OK\n", { mode: 0o755 });
    await Deno.chmod(plugin, 0o755);

    // A symlink re-pointed into a directory others may write to.
    assert.equal(agree(link, "symlink"), null);
    await Deno.chmod(other, 0o777);
    await Deno.writeTextFile(`${other}/check_x`, "#!/bin/sh\necho OK\n", { mode: 0o755 });
    await Deno.chmod(`${other}/check_x`, 0o755);
    await Deno.remove(link);
    await Deno.symlink(`${other}/check_x`, link);
    assert.match(agree(link, "symlink re-pointed")!, /other is writable by group and others/);
    await Deno.remove(link);
    await Deno.symlink(plugin, link);
    assert.equal(agree(link, "symlink back"), null);
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});

Deno.test("trust replay: runPlugin refuses at the next run once the plugin's directory is loosened", async () => {
  const dir = await trustedTempDir("dmonitor-replay-run-");
  try {
    const plugin = `${dir}/check_ok`;
    await Deno.writeTextFile(plugin, "#!/bin/sh\necho OK fine\n", { mode: 0o755 });
    await Deno.chmod(plugin, 0o755);
    const run = () => runPlugin({ host: "h", test: "t", path: plugin, timeoutMs: 5_000 });
    assert.equal((await run()).status, "OK");
    assert.equal((await run()).status, "OK", "replayed");
    await Deno.chmod(dir, 0o777);
    const refused = await run();
    assert.equal(refused.state, "ERROR");
    assert.match(refused.output, /is writable by group and others/);
    await Deno.chmod(dir, 0o755);
    assert.equal((await run()).status, "OK");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
