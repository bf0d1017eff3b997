import assert from "node:assert/strict";
import { describeSpawnError, parseShebang } from "./safety.ts";

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
