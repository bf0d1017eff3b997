import assert from "node:assert/strict";
import { passwordDigest } from "./password.ts";

Deno.test("passwordDigest: MD5 of the raw MD5, lowercase hex", () => {
  assert.equal(passwordDigest("s3cret"), "703b089710823916d4bb7ff2deff4d8f");
  assert.match(passwordDigest(""), /^[0-9a-f]{32}$/);
  assert.notEqual(passwordDigest("a"), passwordDigest("b"));
});
