import assert from "node:assert/strict";
import { parseFilters } from "./protocol.ts";
import {
  lock,
  openStored,
  removeIfSame,
  Storage,
  StoredFile,
  TEMP_PREFIX,
  tryLock,
} from "./storage.ts";
import { ls, tempDir } from "./testing.ts";

Deno.test("locks: tryLock fails while held; lock waits its turn", async () => {
  const release = tryLock("/x/a")!;
  assert.ok(release);
  assert.equal(tryLock("/x/a"), null);
  assert.ok(tryLock("/x/b"));
  const order: string[] = [];
  const waiter = lock("/x/a").then((r) => {
    order.push("second");
    r();
  });
  await new Promise((r) => setTimeout(r, 10));
  order.push("first");
  release();
  release(); // idempotent
  await waiter;
  assert.deepEqual(order, ["first", "second"]);
  assert.ok(tryLock("/x/a"));
});

Deno.test("commit: no-clobber without overwrite, replace with it; temporaries never remain", async () => {
  await using d = await tempDir();
  const st = new Storage(d.path + "/", []);
  assert.equal(st.root, d.path);
  const write = async (text: string) => {
    const t = st.createTemp(d.path);
    await t.file.write(new TextEncoder().encode(text));
    await st.finish(t);
    return t.path;
  };
  assert.equal(await st.commit(await write("one"), `${d.path}/f`, false), "ok");
  assert.equal(await st.commit(await write("two"), `${d.path}/f`, false), "exists");
  assert.equal(await Deno.readTextFile(`${d.path}/f`), "one");
  assert.equal(await st.commit(await write("three"), `${d.path}/f`, true), "ok");
  assert.equal(await Deno.readTextFile(`${d.path}/f`), "three");
  await Deno.mkdir(`${d.path}/dir`);
  assert.equal(await st.commit(await write("x"), `${d.path}/dir`, true), "exists");
  assert.deepEqual(await ls(d.path), ["dir", "f"]);
});

Deno.test("locate and list: filters pick directories; listings hide temporaries", async () => {
  await using d = await tempDir();
  const st = new Storage(d.path, parseFilters(".*\\.conf:conf"));
  await st.prepare();
  assert.deepEqual(st.locate("a.conf"), { dir: `${d.path}/conf`, path: `${d.path}/conf/a.conf` });
  assert.deepEqual(st.locate("a.data"), { dir: d.path, path: `${d.path}/a.data` });
  assert.equal(st.listDir("x.conf"), `${d.path}/conf`);
  await Deno.writeTextFile(`${d.path}/${TEMP_PREFIX}abc`, "partial");
  await Deno.writeTextFile(`${d.path}/z`, "");
  assert.deepEqual(await st.list(d.path), [".", "..", "conf", "z"]);
});

Deno.test("sweep removes only old temporaries left by a crash", async () => {
  await using d = await tempDir();
  const st = new Storage(d.path, parseFilters("x:sub"));
  await st.prepare();
  await Deno.writeTextFile(`${d.path}/${TEMP_PREFIX}old`, "");
  await Deno.writeTextFile(`${d.path}/sub/${TEMP_PREFIX}old2`, "");
  await Deno.writeTextFile(`${d.path}/keep.data`, "");
  assert.equal(await st.sweep(Date.now(), 60_000), 0);
  assert.equal(await st.sweep(Date.now() + 120_000, 60_000), 2);
  assert.deepEqual(await ls(d.path), ["keep.data", "sub"]);
  assert.deepEqual(await ls(`${d.path}/sub`), []);
});

Deno.test("openStored and removeIfSame: regular files only; never delete a replaced file", async () => {
  await using d = await tempDir();
  await Deno.writeTextFile(`${d.path}/f`, "v1");
  await Deno.mkdir(`${d.path}/dir`);
  assert.equal(await openStored(`${d.path}/dir`), null);
  assert.equal(await openStored(`${d.path}/missing`), null);
  const o = (await openStored(`${d.path}/f`)) as StoredFile;
  await o.close();
  assert.equal(o.size, 2);
  await Deno.writeTextFile(`${d.path}/g`, "v2");
  await Deno.rename(`${d.path}/g`, `${d.path}/f`); // replaced behind our back
  assert.equal(await removeIfSame(`${d.path}/f`, o.ino), false);
  assert.equal(await Deno.readTextFile(`${d.path}/f`), "v2");
  const o2 = (await openStored(`${d.path}/f`)) as StoredFile;
  await o2.close();
  assert.equal(await removeIfSame(`${d.path}/f`, o2.ino), true);
  assert.equal(await removeIfSame(`${d.path}/f`, o2.ino), false);
});
