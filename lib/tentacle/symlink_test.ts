// Symbolic links placed in the storage directory, over real sockets: no command may follow one out
// of it. A link to a file outside, a link to a directory outside, and a filter directory replaced
// by a link to a directory outside; RECV, ZRECV, MV, SMV, LS and SEND (with -o) each refuse, the
// files outside stay as they were, and a regular file next to them is still served.
import assert from "node:assert/strict";
import { join } from "node:path";
import { TentacleClient } from "./client.ts";
import { ls, Raw, startTestServer, tempDir } from "./testing.ts";

const HOST = "127.0.20.2";

async function fixture() {
  const outside = await tempDir();
  await Deno.writeTextFile(join(outside.path, "secret.data"), "SECRET");
  await Deno.mkdir(join(outside.path, "dir"));
  await Deno.writeTextFile(join(outside.path, "dir", "x.conf"), "OUTSIDE CONF");
  const s = await startTestServer({
    addresses: [HOST],
    insecure: true,
    overwrite: true,
    filters: ".*\\.conf:conf",
  });
  // Placed while the server runs, as a local user with write access to the spool would.
  await Deno.writeTextFile(join(s.dir, "real.data"), "REAL");
  await Deno.symlink(join(outside.path, "secret.data"), join(s.dir, "link.data"));
  await Deno.symlink(join(outside.path, "dir"), join(s.dir, "dirlink"));
  await Deno.remove(join(s.dir, "conf"));
  await Deno.symlink(join(outside.path, "dir"), join(s.dir, "conf"));
  return {
    s,
    outside: outside.path,
    async [Symbol.asyncDispose]() {
      await s[Symbol.asyncDispose]();
      await outside[Symbol.asyncDispose]();
    },
  };
}

async function unchanged(f: { s: { dir: string }; outside: string }) {
  assert.equal(await Deno.readTextFile(join(f.outside, "secret.data")), "SECRET");
  assert.deepEqual(await ls(join(f.outside, "dir")), ["x.conf"]);
  assert.equal(await Deno.readTextFile(join(f.outside, "dir", "x.conf")), "OUTSIDE CONF");
  assert.ok((await Deno.lstat(join(f.s.dir, "link.data"))).isSymlink);
  assert.ok((await Deno.lstat(join(f.s.dir, "conf"))).isSymlink);
}

Deno.test("symlinks: RECV and ZRECV never serve a file through a link", async () => {
  await using f = await fixture();
  using c = await Raw.open(f.s.port, HOST);
  for (const [word, name] of [["RECV", "link.data"], ["ZRECV", "link.data"], ["RECV", "x.conf"]]) {
    await c.write(`${word} <${name}>\n`);
    assert.equal(await c.line(), `${word} ERR (file does not exist)`, `${word} ${name}`);
  }
  await c.write("RECV <dirlink>\n");
  assert.equal(await c.line(), "RECV ERR (file does not exist)");
  await c.write("RECV <real.data>\n"); // a regular file still is
  assert.equal(await c.line(), "RECV SIZE 4");
  await c.write("RECV OK\n");
  assert.equal(new TextDecoder().decode(await c.bytes(4)), "REAL");
  await unchanged(f);
  assert.equal(
    f.s.logs.filter((l) => /reason=.*symbolic link/.test(l)).length,
    3,
    f.s.logs.join("\n"),
  );
  assert.ok(f.s.logs.some((l) => /outside the storage directory/.test(l)));
});

Deno.test("symlinks: MV and SMV neither send nor delete through a link", async () => {
  await using f = await fixture();
  using c = await Raw.open(f.s.port, HOST);
  for (const name of ["link.data", "x.conf", "dirlink"]) {
    await c.write(`MV <${name}>\n`);
    assert.equal(await c.line(), "MV ERR", name);
    await c.write(`SMV <${name}>\n`);
    assert.equal(await c.line(), "SMV ERR", name);
  }
  // The safe move as the puller uses it, with a regular file beside them.
  const client = await TentacleClient.connect({ host: HOST, port: f.s.port });
  assert.ok(client.safeMove);
  await using d = await tempDir();
  const { moved, failed } = await client.mvMany(
    ["link.data", "real.data", "x.conf"].map((name) => ({ name, dest: join(d.path, name) })),
  );
  await client.quit();
  assert.deepEqual(moved.map((m) => m.name), ["real.data"]);
  assert.deepEqual(failed.map((x) => x.name), ["link.data", "x.conf"]);
  assert.deepEqual(await ls(d.path), ["real.data"]);
  await unchanged(f);
});

Deno.test("symlinks: LS lists no link and refuses a linked filter directory", async () => {
  await using f = await fixture();
  const client = await TentacleClient.connect({ host: HOST, port: f.s.port });
  assert.deepEqual(await client.ls(""), ["real.data"]);
  await assert.rejects(client.ls("x.conf"), /LS ERR/);
  await client.quit();
  await unchanged(f);
});

Deno.test("symlinks: SEND (with -o) neither replaces a link nor writes through one", async () => {
  await using f = await fixture();
  using c = await Raw.open(f.s.port, HOST);
  await c.write("SEND <link.data> SIZE 5\n");
  assert.equal(await c.line(), "SEND ERR (file already exists)");
  await c.write("SEND <dirlink> SIZE 5\n");
  assert.equal(await c.line(), "SEND ERR (file already exists)");
  // conf/ links out of the spool: x.conf (existing outside) and new.conf (not) are both refused.
  for (const name of ["x.conf", "new.conf"]) {
    await c.write(`SEND <${name}> SIZE 5\n`);
    assert.equal(await c.line(), "SEND ERR (invalid file name)", name);
  }
  await c.write("SEND <real.data> SIZE 5\n"); // overwriting a regular file still works
  assert.equal(await c.line(), "SEND OK");
  await c.write("fresh");
  assert.equal(await c.line(), "SEND OK");
  assert.equal(await Deno.readTextFile(join(f.s.dir, "real.data")), "fresh");
  await unchanged(f);
  assert.deepEqual(await ls(f.s.dir), ["conf", "dirlink", "link.data", "real.data"]);
});

Deno.test("symlinks: SEND (with -o) over a dangling link is refused once the body is in", async () => {
  await using f = await fixture();
  const target = join(f.outside, "not-yet.data");
  await Deno.symlink(target, join(f.s.dir, "dangling.data"));
  using c = await Raw.open(f.s.port, HOST);
  // The name check does not see it (nothing exists behind it); the commit's link() does.
  await c.write("SEND <dangling.data> SIZE 5\n");
  assert.equal(await c.line(), "SEND OK");
  await c.write("fresh");
  assert.equal(await c.line(), "SEND ERR (file already exists)");
  await c.write("SEND <real.data> SIZE 3\n"); // the session goes on
  assert.equal(await c.line(), "SEND OK");
  await c.write("new");
  assert.equal(await c.line(), "SEND OK");
  assert.ok((await Deno.lstat(join(f.s.dir, "dangling.data"))).isSymlink);
  await assert.rejects(Deno.lstat(target), Deno.errors.NotFound);
  await unchanged(f);
  assert.deepEqual(await ls(f.s.dir), [
    "conf",
    "dangling.data",
    "dirlink",
    "link.data",
    "real.data",
  ]);
});
