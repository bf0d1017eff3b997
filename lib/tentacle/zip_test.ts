import assert from "node:assert/strict";
import { tempDir } from "./testing.ts";
import { extractZip, readZipMember, writeZip, ZipError, ZipTooBigError } from "./zip.ts";

// What the reference's IO::Compress::Zip produced for "hello from perl\nline two\n": streaming
// mode (general purpose bit 3, sizes in a data descriptor and the central directory only).
const PERL_ZIP =
  "UEsDBBQACAAIAG1JdV0AAAAAAAAAAAAAAAALABwAcGVybF9pbi50eHRVVAkAAz9gAWs/YAFrdXgLAAEEAAAAAAQAAAAAy0jNyclXSCvKz1UoSC3K4crJzEtVKCnP5wIAUEsHCIjBbaAbAAAAGQAAAFBLAQIUAxQACAAIAG1JdV2IwW2gGwAAABkAAAALABgAAAAAAAEAAACkgQAAAABwZXJsX2luLnR4dFVUBQABP2ABa3V4CwABBAAAAAAEAAAAAFBLBQYAAAAAAQABAFEAAABwAAAAAAA=";

async function extractToBytes(zipPath: string, dir: string, max = 1 << 30): Promise<Uint8Array> {
  const out = `${dir}/out`;
  {
    using f = await Deno.open(out, { write: true, create: true, truncate: true });
    await extractZip(zipPath, f, max);
  }
  return await Deno.readFile(out);
}

Deno.test("zip: reads the reference's streaming-mode archive", async () => {
  await using d = await tempDir();
  await Deno.writeFile(`${d.path}/p.zip`, Uint8Array.from(atob(PERL_ZIP), (c) => c.charCodeAt(0)));
  const m = await readZipMember(`${d.path}/p.zip`);
  assert.equal(m.name, "perl_in.txt");
  assert.equal(m.method, 8);
  assert.equal(m.size, 25);
  assert.equal(
    new TextDecoder().decode(await extractToBytes(`${d.path}/p.zip`, d.path)),
    "hello from perl\nline two\n",
  );
});

Deno.test("zip: round trip of binary data, empty and incompressible files", async () => {
  await using d = await tempDir();
  const random = crypto.getRandomValues(new Uint8Array(65536));
  const big = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
  for (const data of [new Uint8Array(0), new TextEncoder().encode("x"), random, big]) {
    await Deno.writeFile(`${d.path}/in`, data);
    const size = await writeZip(`${d.path}/in`, `${d.path}/a.zip`, "in.data");
    assert.equal(size, (await Deno.stat(`${d.path}/a.zip`)).size);
    const m = await readZipMember(`${d.path}/a.zip`);
    assert.equal(m.name, "in.data");
    assert.equal(m.size, data.length);
    assert.deepEqual(await extractToBytes(`${d.path}/a.zip`, d.path), data);
  }
});

Deno.test("zip: a bomb stops at the cap, with little written", async () => {
  await using d = await tempDir();
  await Deno.writeFile(`${d.path}/zeros`, new Uint8Array(20 * 1024 * 1024));
  const zsize = await writeZip(`${d.path}/zeros`, `${d.path}/bomb.zip`, "zeros");
  assert.ok(zsize < 100_000, `compressed to ${zsize}`);
  await assert.rejects(extractToBytes(`${d.path}/bomb.zip`, d.path, 1_000_000), ZipTooBigError);
  // A header that lies about the size is caught while inflating, not trusted.
  const bytes = await Deno.readFile(`${d.path}/bomb.zip`);
  const v = new DataView(bytes.buffer);
  const cd = bytes.length - 22 - 46 - "zeros".length;
  v.setUint32(cd + 24, 1000, true);
  await Deno.writeFile(`${d.path}/liar.zip`, bytes);
  await assert.rejects(
    extractToBytes(`${d.path}/liar.zip`, d.path, 1_000_000),
    /past its declared 1000/,
  );
  assert.ok((await Deno.stat(`${d.path}/out`)).size <= 1_000_000);
});

Deno.test("zip: corrupt, foreign and unsupported archives are refused", async () => {
  await using d = await tempDir();
  await Deno.writeFile(
    `${d.path}/in`,
    new TextEncoder().encode("some text to compress ".repeat(50)),
  );
  await writeZip(`${d.path}/in`, `${d.path}/ok.zip`, "in");
  const good = await Deno.readFile(`${d.path}/ok.zip`);
  const cd = good.length - 22 - 46 - 2;
  const variant = async (name: string, edit: (b: Uint8Array, v: DataView) => void) => {
    const b = good.slice();
    edit(b, new DataView(b.buffer));
    await Deno.writeFile(`${d.path}/${name}`, b);
    return `${d.path}/${name}`;
  };
  const cases: [string, (b: Uint8Array, v: DataView) => void, RegExp][] = [
    ["crc.zip", (_b, v) => v.setUint32(cd + 16, 1234, true), /CRC-32 mismatch/],
    ["two.zip", (b, v) => v.setUint16(b.length - 22 + 10, 2, true), /exactly one member/],
    ["method.zip", (_b, v) => v.setUint16(cd + 10, 12, true), /unsupported compression method 12/],
    ["crypt.zip", (_b, v) => v.setUint16(cd + 8, 1, true), /encrypted/],
    ["zip64.zip", (_b, v) => v.setUint32(cd + 24, 0xffffffff, true), /ZIP64/],
    ["garbage.zip", (b) => b.fill(0x20, 30, 60), /inflate|CRC|size/],
  ];
  for (const [name, edit, want] of cases) {
    await assert.rejects(extractToBytes(await variant(name, edit), d.path), want, name);
  }
  await Deno.writeFile(`${d.path}/text.zip`, new TextEncoder().encode("not a zip at all"));
  await assert.rejects(readZipMember(`${d.path}/text.zip`), ZipError);
  await Deno.writeFile(`${d.path}/cut.zip`, good.subarray(0, 40));
  await assert.rejects(readZipMember(`${d.path}/cut.zip`), ZipError);
});

Deno.test("zip: stored (method 0) members are accepted", async () => {
  await using d = await tempDir();
  const data = new TextEncoder().encode("stored!");
  const name = new TextEncoder().encode("s");
  const crc = (await import("node:zlib")).default.crc32(data);
  const b = new Uint8Array(30 + 1 + data.length + 46 + 1 + 22);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x04034b50, true);
  v.setUint16(26, 1, true);
  b.set(name, 30);
  b.set(data, 31);
  const cd = 31 + data.length;
  v.setUint32(cd, 0x02014b50, true);
  v.setUint32(cd + 16, crc, true);
  v.setUint32(cd + 20, data.length, true);
  v.setUint32(cd + 24, data.length, true);
  v.setUint16(cd + 28, 1, true);
  b.set(name, cd + 46);
  const end = cd + 47;
  v.setUint32(end, 0x06054b50, true);
  v.setUint16(end + 8, 1, true);
  v.setUint16(end + 10, 1, true);
  v.setUint32(end + 12, 47, true);
  v.setUint32(end + 16, cd, true);
  await Deno.writeFile(`${d.path}/s.zip`, b);
  assert.deepEqual(await extractToBytes(`${d.path}/s.zip`, d.path), data);
});
