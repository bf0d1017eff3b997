import assert from "node:assert/strict";
import { NonceCache } from "./nonce_cache.ts";

Deno.test("NonceCache: a nonce is accepted once, again after it expired, never past the cap", () => {
  const c = new NonceCache({ ttlMs: 1000, max: 2 });
  assert.equal(c.check("n1", 0), "fresh");
  assert.equal(c.check("n1", 500), "replayed");
  assert.equal(c.check("n2", 600), "fresh");
  assert.equal(c.check("n3", 700), "full"); // refusing beats forgetting an unexpired nonce
  assert.equal(c.size, 2);
  assert.equal(c.check("n3", 1000), "fresh"); // n1 expired at 1000
  assert.equal(c.check("n1", 1001), "full");
  assert.equal(c.check("n1", 1600), "fresh"); // n2 expired
  assert.equal(c.size, 2);
});
