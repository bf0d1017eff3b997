import assert from "node:assert/strict";
import { decodeStatus, posixSpawn, posixSpawnAvailable, posixSpawnUnavailable } from "./spawn.ts";
import { pluginFixture } from "./testing.ts";
import { readThreads } from "../privilege/mod.ts";

const isRoot = Deno.uid() === 0;
const NOBODY = { uid: 65534, gid: 65534 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("decodeStatus: exit codes and signals as Deno reports them", () => {
  const cases: [number, Deno.CommandStatus][] = [
    [0, { success: true, code: 0, signal: null }],
    [3 << 8, { success: false, code: 3, signal: null }],
    [255 << 8, { success: false, code: 255, signal: null }],
    [9, { success: false, code: 137, signal: "SIGKILL" }],
    [15, { success: false, code: 143, signal: "SIGTERM" }],
    [6 | 0x80, { success: false, code: 134, signal: "SIGABRT" }], // core dumped
  ];
  for (const [st, want] of cases) assert.deepEqual(decodeStatus(st), want, `status ${st}`);
});

Deno.test("posixSpawn: is available on this machine (Linux, glibc, --allow-ffi)", () => {
  assert.ok(posixSpawnAvailable(isRoot), posixSpawnUnavailable());
});

Deno.test("posixSpawn: argv, env, exit code and both pipes, 64 at once", async () => {
  await using fx = await pluginFixture();
  const path = await fx.write(
    "check_echo",
    '#!/bin/sh\necho "out $1 $X"\necho "err $1" >&2\nexit "$1"\n',
  );
  const runs = Array.from({ length: 64 }, async (_, i) => {
    const c = await posixSpawn(
      { path, args: [String(i)], env: { X: `x${i}` }, runAs: null },
      100,
      100,
    );
    return Promise.all([c.status, c.output]);
  });
  for (const [i, [status, [out, err]]] of (await Promise.all(runs)).entries()) {
    assert.deepEqual(status, { success: i === 0, code: i, signal: null });
    assert.equal(text(out.bytes), `out ${i} x${i}\n`);
    assert.equal(text(err.bytes), `err ${i}\n`);
  }
});

Deno.test("posixSpawn: output beyond the cap is counted, not kept", async () => {
  await using fx = await pluginFixture();
  const c = await posixSpawn(
    { path: fx.path("check_10mb"), args: [], env: {}, runAs: null },
    1000,
    10,
  );
  const [status, [out]] = await Promise.all([c.status, c.output]);
  assert.equal(status.code, 0);
  assert.equal(out.bytes.length, 1000);
  assert.ok(out.total > 10_000_000, `read ${out.total} bytes`);
});

Deno.test("posixSpawn: a failed exec throws what Deno.Command would", async () => {
  await using fx = await pluginFixture();
  const missing = `${fx.dir}/nope`;
  await assert.rejects(
    () => posixSpawn({ path: missing, args: [], env: {}, runAs: null }, 10, 10),
    (e) => e instanceof Deno.errors.NotFound && /os error 2/.test(e.message),
  );
  const plain = await fx.write("plain", "#!/bin/sh\n", 0o644);
  await assert.rejects(
    () => posixSpawn({ path: plain, args: [], env: {}, runAs: null }, 10, 10),
    (e) => e instanceof Deno.errors.PermissionDenied,
  );
  await assert.rejects(
    () => posixSpawn({ path: plain, args: ["a\0b"], env: {}, runAs: null }, 10, 10),
    TypeError,
  );
});

Deno.test({
  name: "posixSpawn as nobody: dmonitor's threads keep their credentials; the plugin has nobody's",
  ignore: !isRoot,
  fn: async () => {
    await using fx = await pluginFixture();
    const before = await readThreads();
    const runs = Array.from({ length: 32 }, async () => {
      const c = await posixSpawn(
        { path: fx.path("check_creds"), args: [], env: {}, runAs: NOBODY },
        4096,
        4096,
      );
      return Promise.all([c.status, c.output]);
    });
    for (const [status, [out]] of await Promise.all(runs)) {
      assert.equal(status.code, 0);
      assert.match(text(out.bytes), /^Uid: 65534 65534 65534 65534$/m);
      assert.match(text(out.bytes), /^CapEff: 0000000000000000$/m);
    }
    const after = await readThreads();
    const main = after.get(Deno.pid)!;
    assert.deepEqual(main, before.get(Deno.pid), "the main thread switched back");
    assert.deepEqual(main.uid, [0, 0, 0, 0]);
    for (const [tid, creds] of after) {
      const was = before.get(tid);
      if (was) assert.deepEqual(creds, was, `thread ${tid}`);
      else assert.deepEqual(creds, main, `new thread ${tid}`);
    }
  },
});

Deno.test("posixSpawn: a descriptor dmonitor holds without close-on-exec does not reach the plugin", async () => {
  // dup(2) gives a copy without close-on-exec, as one inherited from whoever started dmonitor.
  const libc = Deno.dlopen("libc.so.6", {
    dup: { parameters: ["i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
  const leaked = libc.symbols.dup(2);
  assert.ok(leaked > 2);
  try {
    for (const runAs of isRoot ? [null, NOBODY] : [null]) {
      const c = await posixSpawn(
        { path: "/bin/ls", args: ["/proc/self/fd"], env: {}, runAs },
        4096,
        4096,
      );
      const [status, [out]] = await Promise.all([c.status, c.output]);
      assert.equal(status.code, 0);
      // 0-2 and ls's own descriptor of /proc/self/fd (3).
      assert.deepEqual(text(out.bytes).split("\n").filter(Boolean), ["0", "1", "2", "3"]);
    }
  } finally {
    libc.symbols.close(leaked);
    libc.close();
  }
});
