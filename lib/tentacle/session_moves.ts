/**
 * Handlers of MV (as the reference: delete once sent) and of the safe move extension (SMV, then
 * SMV DONE: delete only after the puller confirmed length and SHA-256). See README.md.
 * @module
 */

import { METRICS } from "../metrics/mod.ts";
import { createHash } from "node:crypto";
import { Ack, checkName, MAX_LEASES, Reply } from "./protocol.ts";
import type { Outcome, Session } from "./session.ts";
import { removeIfSame, StoredFile, tryLock } from "./storage.ts";
import { refusedLink } from "./session_files.ts";

export async function move(s: Session, cmd: { name: string }): Promise<Outcome> {
  if (!s.cfg.insecure) {
    s.log.info("insecure mode disabled, rejected MV", { peer: s.peer, file: cmd.name });
    return "close";
  }
  const fields = { peer: s.peer, file: cmd.name };
  if (checkName(cmd.name)) {
    await s.reply(Reply.mvErr);
    return "continue";
  }
  const loc = s.cfg.storage.locate(cmd.name);
  const release = tryLock(loc.path);
  if (!release) {
    s.log.info("file is being moved by another connection", fields);
    await s.reply(Reply.mvErr);
    return "continue";
  }
  try {
    const opened = await s.cfg.storage.open(loc.path);
    if (!(opened instanceof StoredFile)) {
      if (opened) refusedLink(s, cmd.name, opened.refused);
      await s.reply(Reply.mvErr);
      return "continue";
    }
    try {
      await s.reply(Reply.mvSize(opened.size));
      const ack = await s.ack();
      if (ack === null) return "close";
      if (ack !== Ack.MV) return "continue";
      await s.sendFrom(opened, opened.size);
    } finally {
      await opened.close();
    }
    // As the reference: deleted once sent, without any acknowledgement (SMV is the safe way).
    await removeIfSame(loc.path, opened.ino, opened.dev);
    s.log.info("file sent and deleted", { ...fields, size: opened.size });
    METRICS.tentacleFiles.inc({ direction: "sent" });
    METRICS.tentacleBytes.inc({ direction: "sent" }, opened.size);
    return "continue";
  } finally {
    release();
  }
}

/** A file sent by SMV, kept locked for this connection until SMV DONE (or the lease expires). */
export interface Lease {
  ino: number | null;
  dev: number | null;
  size: number;
  sha256: string;
  release: () => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * SMV: like MV, but the body follows `SMV SIZE n` at once, and the file stays (locked: "leased"
 * to this connection) until the puller confirms it with SMV DONE.
 */
export async function safeMove(s: Session, cmd: { name: string }): Promise<Outcome> {
  if (!s.cfg.insecure || !s.cfg.extensions) {
    s.log.info("insecure mode or extensions disabled, rejected SMV", { peer: s.peer });
    return "close";
  }
  const fields = { peer: s.peer, file: cmd.name };
  if (checkName(cmd.name)) {
    await s.reply(Reply.smvErr);
    return "continue";
  }
  if (s.leases.size >= MAX_LEASES) {
    await s.reply(Reply.smvTooMany);
    return "continue";
  }
  const loc = s.cfg.storage.locate(cmd.name);
  const release = tryLock(loc.path); // also refuses a name this connection already holds
  if (!release) {
    s.log.info("file is being moved by another connection", fields);
    await s.reply(Reply.smvErr);
    return "continue";
  }
  let leased = false;
  try {
    const opened = await s.cfg.storage.open(loc.path);
    if (!(opened instanceof StoredFile)) {
      if (opened) refusedLink(s, cmd.name, opened.refused);
      await s.reply(Reply.smvErr);
      return "continue";
    }
    const hash = createHash("sha256");
    try {
      // No go-ahead round trip (unlike MV): the puller asked for it and may pipeline requests.
      await s.reply(Reply.smvSize(opened.size));
      await s.sendFrom(opened, opened.size, hash);
    } finally {
      await opened.close();
    }
    const timer = setTimeout(() => {
      if (s.leases.get(loc.path)?.timer !== timer) return;
      s.leases.delete(loc.path);
      release();
      s.log.warn("safe move not confirmed in time, file kept", fields);
    }, s.cfg.leaseMs);
    s.leases.set(loc.path, {
      ino: opened.ino,
      dev: opened.dev,
      size: opened.size,
      sha256: hash.digest("hex"),
      release,
      timer,
    });
    leased = true;
    s.log.debug("file sent, waiting for confirmation", { ...fields, size: opened.size });
    return "continue";
  } finally {
    if (!leased) release();
  }
}

/** SMV DONE: the puller stored the file; delete it if length and SHA-256 match what was sent. */
export async function safeDone(
  s: Session,
  cmd: { name: string; size: number; sha256: string },
): Promise<Outcome> {
  if (!s.cfg.insecure || !s.cfg.extensions) return "close";
  const fields = { peer: s.peer, file: cmd.name };
  const path = checkName(cmd.name) ? null : s.cfg.storage.locate(cmd.name).path;
  const lease = path === null ? undefined : s.leases.get(path);
  if (path === null || !lease) {
    await s.reply(Reply.smvKept("not leased"));
    return "continue";
  }
  s.leases.delete(path);
  clearTimeout(lease.timer);
  try {
    if (cmd.size !== lease.size || cmd.sha256 !== lease.sha256) {
      s.log.warn("safe move: checksum mismatch, file kept", fields);
      await s.reply(Reply.smvKept("checksum mismatch"));
      return "continue";
    }
    if (!(await removeIfSame(path, lease.ino, lease.dev))) {
      await s.reply(Reply.smvKept("file changed"));
      return "continue";
    }
  } finally {
    lease.release();
  }
  s.log.info("file sent, confirmed and deleted", { ...fields, size: lease.size });
  METRICS.tentacleFiles.inc({ direction: "sent" });
  METRICS.tentacleBytes.inc({ direction: "sent" }, lease.size);
  await s.reply(Reply.smvDeleted);
  return "continue";
}
