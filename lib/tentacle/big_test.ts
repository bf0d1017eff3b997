// A 100 MB file each way, checked by SHA-256 (memory use is measured in bench/tentacle_bench.ts).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { TentacleClient } from "./client.ts";
import { randomBytes, startTestServer, tempDir } from "./testing.ts";

const SIZE = 100 * 1024 * 1024;

/** Writes `size` bytes: one random block repeated, each copy stamped with its index. */
async function writeBigFile(path: string, size: number): Promise<string> {
  const block = randomBytes(1 << 20);
  const hash = createHash("sha256");
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let i = 0; i * block.length < size; i++) {
    new DataView(block.buffer).setUint32(0, i);
    const piece = block.subarray(0, Math.min(block.length, size - i * block.length));
    hash.update(piece);
    let off = 0;
    while (off < piece.length) off += await f.write(piece.subarray(off));
  }
  return hash.digest("hex");
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) hash.update(chunk);
  return hash.digest("hex");
}

Deno.test("a 100 MB file: SEND, RECV and a safe MV back, byte for byte", async () => {
  await using s = await startTestServer({ insecure: true, maxSize: SIZE, idleTimeoutMs: 10_000 });
  await using local = await tempDir();
  const sum = await writeBigFile(`${local.path}/big.bin`, SIZE);
  await using c = await TentacleClient.connect({ port: s.port, idleTimeoutMs: 10_000 });
  await c.send("big.data", `${local.path}/big.bin`);
  assert.equal((await Deno.stat(`${s.dir}/big.data`)).size, SIZE);
  assert.equal(await sha256File(`${s.dir}/big.data`), sum);
  await c.recv("big.data", `${local.path}/back.bin`);
  assert.equal(await sha256File(`${local.path}/back.bin`), sum);
  await Deno.remove(`${local.path}/back.bin`);
  const moved = await c.mv("big.data", `${local.path}/moved.bin`);
  assert.deepEqual(moved, { name: "big.data", size: SIZE, sha256: sum, confirmed: true });
  assert.equal(await sha256File(`${local.path}/moved.bin`), sum);
});
