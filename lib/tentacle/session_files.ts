/**
 * Handlers of the commands that carry files and listings: SEND/ZSEND (to a hidden temporary file,
 * fsynced, then linked or renamed into place), RECV/ZRECV (plus the extension probe) and LS.
 * @module
 */

import { METRICS } from "../metrics/mod.ts";
import {
  Ack,
  checkListFilter,
  checkName,
  FEATURE_SMV,
  PROBE_NAME,
  probeBody,
  Reply,
} from "./protocol.ts";
import type { Outcome, Session } from "./session.ts";
import { StoredFile } from "./storage.ts";
import { extractZip, writeZip, ZipError, ZipTooBigError } from "./zip.ts";

const SEND_REPLIES = {
  ok: Reply.sendOk,
  bad: Reply.sendInvalidName,
  big: Reply.sendTooBig,
  dup: Reply.sendExists,
};
const ZSEND_REPLIES = {
  ok: Reply.zsendOk,
  bad: Reply.zsendInvalidName,
  big: Reply.zsendTooBig,
  dup: Reply.zsendExists,
};

export async function upload(
  s: Session,
  cmd: { name: string; size: number },
  z: boolean,
): Promise<Outcome> {
  const { storage, overwrite, maxSize, maxUnzippedSize } = s.cfg;
  const R = z ? ZSEND_REPLIES : SEND_REPLIES;
  const fields = { peer: s.peer, file: cmd.name, size: cmd.size };
  const why = checkName(cmd.name);
  if (why) {
    s.log.info("invalid file name", { ...fields, reason: why });
    await s.reply(R.bad);
    return "continue";
  }
  if (cmd.size < 1 || cmd.size > maxSize) {
    s.log.info("file is too big", fields);
    await s.reply(R.big);
    return "continue";
  }
  const loc = storage.locate(cmd.name);
  if (!(await storage.contains(loc.dir))) {
    // A filter directory replaced by a link out of the storage directory: never written through.
    s.log.warn("refused a file: its directory is outside the storage directory", {
      ...fields,
      directory: loc.dir,
    });
    await s.reply(R.bad);
    return "continue";
  }
  const kind = storage.quickKind(loc.path);
  if (kind === "other" || (kind === "file" && !overwrite)) {
    // A symbolic link (or a FIFO, a directory) at the name is "other": never replaced or followed.
    (kind === "other" ? s.log.warn : s.log.info)("file already exists", {
      ...fields,
      ...(kind === "other" ? { reason: "not a regular file" } : {}),
    });
    await s.reply(R.dup);
    return "continue";
  }
  // The go-ahead goes out first and the temporary file is created while the client reads its file
  // and sends the body (creating an inode is the slowest step of a small upload), as the reference
  // answers before it opens its file. If the creation fails, the session ends, as the reference's
  // does when its open fails.
  await s.reply(R.ok);
  const body = storage.createTemp(loc.dir, z ? ".zip" : "");
  let out = body;
  try {
    await s.receiveInto(body.file, cmd.size);
    // Like the reference's IO::Uncompress::Unzip (in its default Transparent mode), a ZSEND body
    // that is not a ZIP archive at all is stored as it came.
    if (z && (await startsWithZipMagic(body.file))) {
      body.file.close();
      out = storage.createTemp(loc.dir);
      try {
        await extractZip(body.path, out.file, maxUnzippedSize);
      } catch (e) {
        if (!(e instanceof ZipError)) throw e;
        s.log.info("cannot uncompress", { ...fields, error: e.message });
        closeQuietly(out.file);
        await Deno.remove(out.path).catch(() => {});
        await s.reply(e instanceof ZipTooBigError ? R.big : Reply.zsendErr);
        return "continue";
      }
    }
    await storage.finish(out);
  } catch (e) {
    closeQuietly(out.file);
    await Deno.remove(out.path).catch(() => {});
    throw e;
  } finally {
    if (out !== body) {
      closeQuietly(body.file);
      await Deno.remove(body.path).catch(() => {});
    }
  }
  // The temporary name link() leaves behind is unlinked after the reply (see Storage.commit).
  const leftovers: string[] = [];
  try {
    if ((await storage.commit(out.path, loc.path, overwrite, leftovers)) === "exists") {
      s.log.info("file already exists", fields);
      await s.reply(R.dup);
      return "continue";
    }
    s.log.info(z ? "received compressed file" : "received file", fields);
    METRICS.tentacleFiles.inc({ direction: "received" });
    METRICS.tentacleBytes.inc({ direction: "received" }, cmd.size);
    await s.reply(R.ok);
    return "continue";
  } finally {
    storage.removeLeftovers(leftovers);
  }
}

function closeQuietly(f: Deno.FsFile): void {
  try {
    f.close();
  } catch { /* already closed */ }
}

/** Whether an open file starts with a ZIP local header signature ("PK\x03\x04"). */
async function startsWithZipMagic(f: Deno.FsFile): Promise<boolean> {
  await f.seek(0, Deno.SeekMode.Start);
  const head = new Uint8Array(4);
  let n = 0;
  while (n < 4) {
    const r = await f.read(head.subarray(n));
    if (r === null) break;
    n += r;
  }
  return n === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

export async function download(s: Session, name: string, z: boolean): Promise<Outcome> {
  if (!z && s.cfg.extensions && name === PROBE_NAME) return await probe(s);
  const R = z
    ? {
      size: Reply.zrecvSize,
      bad: Reply.zrecvInvalidName,
      none: Reply.zrecvMissing,
      ok: Ack.ZRECV,
    }
    : { size: Reply.recvSize, bad: Reply.recvInvalidName, none: Reply.recvMissing, ok: Ack.RECV };
  const why = checkName(name);
  // Reserved names (our temporary files) are invisible: "does not exist", as the reference says.
  if (why && why !== "reserved name") {
    s.log.info("requested file has an invalid name", { peer: s.peer, file: name, reason: why });
    await s.reply(R.bad);
    return "continue";
  }
  const { storage } = s.cfg;
  const loc = storage.locate(name);
  const opened = why ? null : await storage.open(loc.path);
  if (!(opened instanceof StoredFile)) {
    if (opened) refusedLink(s, name, opened.refused);
    else s.log.info("requested file does not exist", { peer: s.peer, file: name });
    await s.reply(R.none);
    return "continue";
  }
  let zipPath: string | null = null;
  let zipFile: Deno.FsFile | null = null;
  try {
    let size = opened.size;
    if (z) {
      zipPath = storage.tempPath(storage.root, ".zip");
      try {
        size = await writeZip(opened, zipPath, name);
      } catch (e) {
        // The reference answers QUIT and drops the connection when it cannot compress.
        s.log.error("compression error", { peer: s.peer, file: name, error: String(e) });
        await s.reply(Reply.quit);
        return "close";
      }
      zipFile = await Deno.open(zipPath, { read: true });
    }
    const file = zipFile ?? opened;
    await s.reply(R.size(size));
    const ack = await s.ack();
    if (ack === null) return "close";
    if (ack !== R.ok) {
      s.log.info("requested file not sent", { peer: s.peer, file: name, answer: ack });
      return "continue";
    }
    await s.sendFrom(file, size);
    s.log.info("requested file sent", { peer: s.peer, file: name, size });
    METRICS.tentacleFiles.inc({ direction: "sent" });
    METRICS.tentacleBytes.inc({ direction: "sent" }, size);
    return "continue";
  } finally {
    await opened.close();
    zipFile?.close();
    if (zipPath) await Deno.remove(zipPath).catch(() => {});
  }
}

/** Logs a stored name that was not served: a link, not a regular file, or outside the storage. */
export function refusedLink(s: Session, name: string, why: string): void {
  s.log.warn("refused to serve a file that is not a regular file inside the storage directory", {
    peer: s.peer,
    file: name,
    reason: why,
  });
}

async function probe(s: Session): Promise<Outcome> {
  const features = s.cfg.insecure ? [FEATURE_SMV] : [];
  const body = new TextEncoder().encode(probeBody(features));
  await s.reply(Reply.recvSize(body.length));
  const ack = await s.ack();
  if (ack === null) return "close";
  if (ack === Ack.RECV) await s.writeBody(body);
  return "continue";
}

export async function list(s: Session, cmd: { name: string }): Promise<Outcome> {
  if (!s.cfg.insecure) {
    s.log.info("insecure mode disabled, rejected LS", { peer: s.peer });
    return "close";
  }
  if (checkListFilter(cmd.name)) {
    await s.reply(Reply.lsErr);
    return "continue";
  }
  let entries: string[];
  try {
    entries = await s.cfg.storage.list(s.cfg.storage.listDir(cmd.name));
  } catch (e) {
    s.log.info("cannot list directory", { peer: s.peer, filter: cmd.name, error: String(e) });
    await s.reply(Reply.lsErr);
    return "continue";
  }
  const body = new TextEncoder().encode(entries.map((e) => e + "\n").join(""));
  await s.reply(Reply.lsSize(body.length));
  const ack = await s.ack();
  if (ack === null) return "close";
  if (ack !== Ack.LS) return "continue";
  await s.writeBody(body);
  return "continue";
}
