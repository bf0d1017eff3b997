import assert from "node:assert/strict";
import { constantTimeEqual } from "./mod.ts";

Deno.test("constantTimeEqual: strings and bytes, equal, different, different lengths", () => {
  assert.equal(constantTimeEqual("s3cret-token", "s3cret-token"), true);
  assert.equal(constantTimeEqual("s3cret-token", "s3cret-tokeN"), false);
  assert.equal(constantTimeEqual("short", "longer"), false);
  assert.equal(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])), true);
  assert.equal(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])), false);
  assert.equal(constantTimeEqual("", new Uint8Array()), true);
});
