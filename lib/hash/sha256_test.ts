import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256, sha256Hex } from "./mod.ts";

const reference = (d: string | Uint8Array) => createHash("sha256").update(d).digest("hex");

Deno.test("sha256Hex: the FIPS 180-4 examples", () => {
  assert.deepEqual(
    sha256Hex(""),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.deepEqual(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.deepEqual(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("sha256: equals node:crypto at every length around the block edges, strings and bytes", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let n = 0; n < 300; n++) {
    const bytes = Uint8Array.from({ length: n }, rand);
    assert.deepEqual(sha256Hex(bytes), reference(bytes), `length ${n}`);
    assert.deepEqual(sha256(bytes), new Uint8Array(createHash("sha256").update(bytes).digest()));
  }
  for (const s of ["é", "日本語\0x", "a\u{1F600}b".repeat(40), "x".repeat(100_000)]) {
    assert.deepEqual(sha256Hex(s), reference(s));
  }
});
