import assert from "node:assert/strict";
import {
  checkPluginSafety,
  describeSpawnError,
  parseShebang,
  type PluginFileInfo,
} from "./safety.ts";

const file = (mode: number, uid = 0, gid = 0): PluginFileInfo => ({
  isFile: true,
  mode: 0o100000 | mode,
  uid,
  gid,
});

Deno.test("checkPluginSafety: table", () => {
  const table: [
    string,
    PluginFileInfo,
    number | null,
    { uid: number; gid: number } | null,
    string | null,
  ][] = [
    ["root 0755", file(0o755), 0, null, null],
    ["root 0755 run as nobody", file(0o755), 0, { uid: 65534, gid: 65534 }, null],
    ["root 0700 run as root", file(0o700), 0, null, null],
    [
      "root 0700 run as nobody",
      file(0o700),
      0,
      { uid: 65534, gid: 65534 },
      "not executable by uid 65534 (mode 0700)",
    ],
    ["group exec for nobody's group", file(0o750, 0, 65534), 0, { uid: 65534, gid: 65534 }, null],
    ["owner exec for the run-as owner", file(0o700, 0, 0), 0, { uid: 0, gid: 0 }, null],
    ["own uid 0755", file(0o755, 1000), 1000, null, null],
    ["root-owned, node uid 1000", file(0o755), 1000, null, null],
    [
      "other owner",
      file(0o755, 1001),
      1000,
      null,
      "owned by uid 1001, not by root or dmonitor's own user (uid 1000)",
    ],
    [
      "other owner, node uid unknown",
      file(0o755, 1001),
      null,
      null,
      "owned by uid 1001, not by root",
    ],
    ["group-writable", file(0o775), 0, null, "writable by group (mode 0775); run chmod go-w on it"],
    [
      "others-writable",
      file(0o757),
      0,
      null,
      "writable by others (mode 0757); run chmod go-w on it",
    ],
    [
      "both writable",
      file(0o777),
      0,
      null,
      "writable by group and others (mode 0777); run chmod go-w on it",
    ],
    [
      "setuid shown in mode",
      file(0o4777),
      0,
      null,
      "writable by group and others (mode 4777); run chmod go-w on it",
    ],
    ["not executable", file(0o644), 0, null, "not executable (mode 0644)"],
    ["directory", { isFile: false, mode: 0o40755, uid: 0, gid: 0 }, 0, null, "not a regular file"],
    [
      "no mode",
      { isFile: true, mode: null, uid: null, gid: null },
      0,
      null,
      "cannot read its owner and permissions",
    ],
  ];
  for (const [name, info, nodeUid, runAs, want] of table) {
    assert.equal(checkPluginSafety(info, nodeUid, runAs), want, name);
  }
});

Deno.test("parseShebang: finds the interpreter", () => {
  assert.equal(parseShebang("#!/bin/sh\necho"), "/bin/sh");
  assert.equal(parseShebang("#! /usr/bin/env  python3 -u\n"), "/usr/bin/env");
  assert.equal(parseShebang("#!\n"), null);
  assert.equal(parseShebang("echo hi"), null);
  assert.equal(parseShebang(new TextEncoder().encode("#!/nonexistent/sh")), "/nonexistent/sh");
});

Deno.test("describeSpawnError: explains permission and unexpected errors", async () => {
  assert.equal(
    await describeSpawnError("/x", new Deno.errors.PermissionDenied("EACCES"), { uid: 7, gid: 7 }),
    "permission denied executing it as uid 7 (check the file, its interpreter and their directories)",
  );
  assert.equal(await describeSpawnError("/x", new Error("boom"), null), "cannot start it: boom");
  assert.equal(
    await describeSpawnError("/nonexistent/plugin", new Deno.errors.NotFound("ENOENT"), null),
    "exec failed: ENOENT",
  );
});
