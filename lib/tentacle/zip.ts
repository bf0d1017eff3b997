/**
 * The ZIP bodies of ZSEND and ZRECV: one member, deflated, written and read through files in
 * constant memory with node:zlib's streaming deflateRaw / inflateRaw. Reading caps the
 * decompressed size (zip bombs) and checks the CRC-32 and the length; no ZIP64, no encryption.
 * @module
 */

import zlib from "node:zlib";
import { ProtocolError } from "../errors/mod.ts";

/** The archive is malformed, unsupported, corrupt or inflates past the cap. */
export class ZipError extends ProtocolError {
  override name = "ZipError";
}

/** The member inflates past the allowed size (a zip bomb, or just too big). */
export class ZipTooBigError extends ZipError {
  override name = "ZipTooBigError";
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
const CHUNK = 64 * 1024;
const MAX_32 = 0xffffffff;

/** The one member of an archive, as its headers describe it. */
export interface ZipMember {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  dataOffset: number;
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getFullYear());
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/** Resolves when a writable stream can take more, or is finished with (closed or failed). */
function drained(s: NodeJS.WritableStream & { destroyed?: boolean }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off("drain", done);
      s.off("close", done);
      s.off("error", done);
      resolve();
    };
    s.on("drain", done);
    s.on("close", done);
    s.on("error", done);
  });
}

async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await f.write(data.subarray(off));
}

/** Reads up to `n` bytes at the current position; returns fewer only at end of file. */
async function readUpTo(
  f: { read(p: Uint8Array): Promise<number | null> },
  n: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await f.read(buf.subarray(off));
    if (r === null) break;
    off += r;
  }
  return buf.subarray(0, off);
}

/**
 * Compresses the file `input` into a new ZIP archive at `output` with one deflated member named
 * `name`; returns the archive size. The sizes are patched into the local header afterwards, so no
 * data descriptor is needed.
 */
export async function writeZip(
  input: string | { read(p: Uint8Array): Promise<number | null>; mtime: Date | null },
  output: string,
  name: string,
  opts: { mtime?: Date } = {},
): Promise<number> {
  // A path is opened here; an open file (a stored file checked by openStored) is read as it is.
  using opened = typeof input === "string" ? await Deno.open(input, { read: true }) : null;
  const src = opened ?? (input as { read(p: Uint8Array): Promise<number | null> });
  const st = opened ? await opened.stat() : { mtime: (input as { mtime: Date | null }).mtime };
  using out = await Deno.open(output, { write: true, create: true, truncate: true });
  const nameBytes = new TextEncoder().encode(name);
  const { time, date } = dosDateTime(opts.mtime ?? st.mtime ?? new Date(0));
  const flags = 0x0800; // names are UTF-8

  const local = new DataView(new ArrayBuffer(30));
  local.setUint32(0, LOCAL_SIG, true);
  local.setUint16(4, 20, true);
  local.setUint16(6, flags, true);
  local.setUint16(8, 8, true);
  local.setUint16(10, time, true);
  local.setUint16(12, date, true);
  local.setUint16(26, nameBytes.length, true);
  await writeAll(out, new Uint8Array(local.buffer));
  await writeAll(out, nameBytes);

  let crc = 0;
  let size = 0;
  let compressed = 0;
  const deflater = zlib.createDeflateRaw({ level: 6 });
  const feed = (async () => {
    try {
      for (;;) {
        const chunk = await readUpTo(src, CHUNK);
        if (chunk.length === 0 || deflater.destroyed) break;
        crc = zlib.crc32(chunk, crc);
        size += chunk.length;
        if (!deflater.write(chunk)) await drained(deflater);
      }
      deflater.end();
    } catch (e) {
      deflater.destroy(e as Error);
      throw e;
    }
  })();
  try {
    for await (const piece of deflater as AsyncIterable<Uint8Array>) {
      compressed += piece.length;
      await writeAll(out, piece);
    }
    await feed;
  } catch (e) {
    deflater.destroy();
    await feed.catch(() => {});
    throw e;
  }
  if (size > MAX_32 || compressed > MAX_32) throw new ZipError("file too large for ZIP (no ZIP64)");

  const sizes = new DataView(new ArrayBuffer(12));
  sizes.setUint32(0, crc >>> 0, true);
  sizes.setUint32(4, compressed, true);
  sizes.setUint32(8, size, true);
  await out.seek(14, Deno.SeekMode.Start);
  await writeAll(out, new Uint8Array(sizes.buffer));
  await out.seek(0, Deno.SeekMode.End);

  const cdOffset = 30 + nameBytes.length + compressed;
  const cd = new DataView(new ArrayBuffer(46));
  cd.setUint32(0, CENTRAL_SIG, true);
  cd.setUint16(4, 0x031e, true); // made by: Unix, spec 3.0
  cd.setUint16(6, 20, true);
  cd.setUint16(8, flags, true);
  cd.setUint16(10, 8, true);
  cd.setUint16(12, time, true);
  cd.setUint16(14, date, true);
  cd.setUint32(16, crc >>> 0, true);
  cd.setUint32(20, compressed, true);
  cd.setUint32(24, size, true);
  cd.setUint16(28, nameBytes.length, true);
  cd.setUint32(38, (0o100644 << 16) >>> 0, true);
  cd.setUint32(42, 0, true);
  await writeAll(out, new Uint8Array(cd.buffer));
  await writeAll(out, nameBytes);

  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, EOCD_SIG, true);
  end.setUint16(8, 1, true);
  end.setUint16(10, 1, true);
  end.setUint32(12, 46 + nameBytes.length, true);
  end.setUint32(16, cdOffset, true);
  await writeAll(out, new Uint8Array(end.buffer));
  return cdOffset + 46 + nameBytes.length + 22;
}

/** Locates the single member of the archive at `path` through its central directory. */
export async function readZipMember(path: string): Promise<ZipMember> {
  using f = await Deno.open(path, { read: true });
  const fileSize = (await f.stat()).size;
  const tailLen = Math.min(fileSize, 22 + 0xffff);
  await f.seek(fileSize - tailLen, Deno.SeekMode.Start);
  const tail = await readUpTo(f, tailLen);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG && i + 22 + tv.getUint16(i + 20, true) === tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError("not a ZIP archive (no end of central directory)");
  const entries = tv.getUint16(eocd + 10, true);
  if (entries !== 1) throw new ZipError(`ZIP archive must hold exactly one member, has ${entries}`);
  const cdOffset = tv.getUint32(eocd + 16, true);
  if (cdOffset === MAX_32) throw new ZipError("ZIP64 archives are not supported");

  await f.seek(cdOffset, Deno.SeekMode.Start);
  const cdBytes = await readUpTo(f, 46);
  if (cdBytes.length < 46) throw new ZipError("truncated central directory");
  const cd = new DataView(cdBytes.buffer);
  if (cd.getUint32(0, true) !== CENTRAL_SIG) throw new ZipError("bad central directory signature");
  const flags = cd.getUint16(8, true);
  const method = cd.getUint16(10, true);
  const crc32 = cd.getUint32(16, true);
  const compressedSize = cd.getUint32(20, true);
  const size = cd.getUint32(24, true);
  const nameLen = cd.getUint16(28, true);
  const localOffset = cd.getUint32(42, true);
  if (flags & 0x0001) throw new ZipError("encrypted ZIP members are not supported");
  if (method !== 8 && method !== 0) throw new ZipError(`unsupported compression method ${method}`);
  if (compressedSize === MAX_32 || size === MAX_32 || localOffset === MAX_32) {
    throw new ZipError("ZIP64 archives are not supported");
  }
  const name = new TextDecoder().decode(await readUpTo(f, nameLen));

  await f.seek(localOffset, Deno.SeekMode.Start);
  const lhBytes = await readUpTo(f, 30);
  if (lhBytes.length < 30) throw new ZipError("truncated local header");
  const lh = new DataView(lhBytes.buffer);
  if (lh.getUint32(0, true) !== LOCAL_SIG) throw new ZipError("bad local header signature");
  const dataOffset = localOffset + 30 + lh.getUint16(26, true) + lh.getUint16(28, true);
  if (dataOffset + compressedSize > fileSize) throw new ZipError("member data runs past the end");
  return { name, method, crc32, compressedSize, size, dataOffset };
}

/**
 * Extracts the single member of the archive at `path` into the open file `out`, refusing to write
 * more than `maxSize` bytes. Returns the number of bytes written.
 */
export async function extractZip(path: string, out: Deno.FsFile, maxSize: number): Promise<number> {
  const m = await readZipMember(path);
  if (m.size > maxSize) {
    throw new ZipTooBigError(`member inflates to ${m.size} bytes, over ${maxSize}`);
  }
  using f = await Deno.open(path, { read: true });
  await f.seek(m.dataOffset, Deno.SeekMode.Start);
  let crc = 0;
  let size = 0;
  const take = async (piece: Uint8Array) => {
    size += piece.length;
    // The header's size is not trusted: count what actually comes out.
    if (size > maxSize) throw new ZipTooBigError(`member inflates past ${maxSize} bytes`);
    if (size > m.size) throw new ZipError(`member inflates past its declared ${m.size} bytes`);
    crc = zlib.crc32(piece, crc);
    await writeAll(out, piece);
  };
  const readCompressed = async function* () {
    let left = m.compressedSize;
    while (left > 0) {
      const chunk = await readUpTo(f, Math.min(CHUNK, left));
      if (chunk.length === 0) throw new ZipError("member data truncated");
      left -= chunk.length;
      yield chunk;
    }
  };
  if (m.method === 0) {
    for await (const chunk of readCompressed()) await take(chunk);
  } else {
    const inflater = zlib.createInflateRaw();
    const feed = (async () => {
      try {
        for await (const chunk of readCompressed()) {
          if (inflater.destroyed) return;
          if (!inflater.write(chunk)) await drained(inflater);
        }
        inflater.end();
      } catch (e) {
        inflater.destroy(e as Error);
        throw e;
      }
    })();
    try {
      for await (const piece of inflater as AsyncIterable<Uint8Array>) await take(piece);
      await feed;
    } catch (e) {
      inflater.destroy();
      await feed.catch(() => {});
      if (e instanceof ZipError) throw e;
      throw new ZipError(`cannot inflate: ${(e as Error).message}`, undefined, { cause: e });
    }
  }
  if (size !== m.size) throw new ZipError(`member is ${size} bytes, header says ${m.size}`);
  if ((crc >>> 0) !== m.crc32) throw new ZipError("CRC-32 mismatch");
  return size;
}
