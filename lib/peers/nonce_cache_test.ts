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

Deno.test("NonceCache: bounded at 100,000 nonces, refuses past the cap, empties after the window", () => {
  const c = new NonceCache({ ttlMs: 61_000, max: 100_000 });
  let fresh = 0;
  let full = 0;
  for (let i = 0; i < 100_010; i++) {
    const v = c.check(`nonce-${i}`, 1_000_000 + i % 1000);
    if (v === "fresh") fresh++;
    else if (v === "full") full++;
  }
  assert.equal(fresh, 100_000);
  assert.equal(full, 10, "past the cap new nonces are refused; none is forgotten early");
  assert.equal(c.size, 100_000);
  assert.equal(c.check("nonce-5", 1_001_500), "replayed", "an old nonce is still remembered");
  assert.equal(c.check("later", 1_000_000 + 62_000), "fresh");
  assert.equal(c.size, 1, "every expired nonce was dropped");
});
