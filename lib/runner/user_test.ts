import assert from "node:assert/strict";
import { PluginError } from "../errors/mod.ts";
import { lookupPasswd, resolveUser } from "./user.ts";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "# a comment",
  "",
  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
  "broken line",
  "bad:x:abc:1::/:/bin/sh",
  "dmon:x:998:997::/var/lib/dmonitor:/usr/sbin/nologin",
  "alias:x:998:5::/:/bin/sh",
].join("\n");

Deno.test("lookupPasswd: table", () => {
  const table: [string, { uid: number; gid: number } | null][] = [
    ["nobody", { uid: 65534, gid: 65534 }],
    ["root", { uid: 0, gid: 0 }],
    ["dmon", { uid: 998, gid: 997 }],
    ["missing", null],
    ["bad", null],
    ["x", null],
    ["", null],
    // Numeric: the first entry with that uid, else the number for both ids.
    ["998", { uid: 998, gid: 997 }],
    ["4242", { uid: 4242, gid: 4242 }],
    ["99999999999", null],
  ];
  for (const [name, want] of table) assert.deepEqual(lookupPasswd(PASSWD, name), want, name);
});

Deno.test("resolveUser: reads a passwd file; a missing user or file is a PluginError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/passwd`;
    await Deno.writeTextFile(path, PASSWD);
    assert.deepEqual(await resolveUser("dmon", path), { uid: 998, gid: 997 });
    await assert.rejects(() => resolveUser("ghost", path), (err: unknown) => {
      assert.ok(err instanceof PluginError);
      assert.equal(err.message, `Cannot resolve plugin_user "ghost": no such user in ${path}`);
      return true;
    });
    await assert.rejects(
      () => resolveUser("nobody", `${dir}/none`),
      new RegExp(`cannot read ${dir}/none`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveUser: finds nobody on this system", async () => {
  const nobody = await resolveUser("nobody");
  assert.ok(nobody.uid > 0);
});
