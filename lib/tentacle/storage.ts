/**
 * The storage directory: routing names through filters, hidden temporary files made visible only by
 * an atomic rename after fsync, listings without partial files, and per-name locks.
 * @module
 */

import { join } from "node:path";
import { type Filter, listable, RESERVED_PREFIX, routeName } from "./protocol.ts";

/** Prefix of the hidden files uploads are written to before they are renamed into place. */
export const TEMP_PREFIX = `${RESERVED_PREFIX}.tmp.`;

/** Where a name lives: its directory (created on demand) and full path. */
export interface Located {
  dir: string;
  path: string;
}

/** Per-path locks shared by every server in this process, so two MVs never deliver one file. */
const locks = new Map<string, Promise<void>>();

/** Takes the lock on `path` if free; returns its release function, or null when taken. */
export function tryLock(path: string): (() => void) | null {
  if (locks.has(path)) return null;
  return hold(path);
}

/** Waits for the lock on `path`; returns its release function. */
export async function lock(path: string): Promise<() => void> {
  for (;;) {
    const held = locks.get(path);
    if (!held) return hold(path);
    await held;
  }
}

function hold(path: string): () => void {
  let release!: () => void;
  locks.set(path, new Promise<void>((r) => (release = r)));
  let done = false;
  return () => {
    if (done) return;
    done = true;
    locks.delete(path);
    release();
  };
}

/** What a body can be sent from: an open stored file (see openStored) or a Deno.FsFile. */
export interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

/** Writes all of `data`; Deno's `write` may be partial. */
export async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await f.write(data.subarray(off));
}

/** A random suffix for temporary names. */
function randomTag(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A hidden temporary file opened for writing. */
export interface TempFile {
  path: string;
  file: Deno.FsFile;
}

/** The storage directory of a server. */
export class Storage {
  readonly root: string;
  readonly filters: readonly Filter[];
  readonly fsync: boolean;

  constructor(root: string, filters: readonly Filter[], opts: { fsync?: boolean } = {}) {
    this.root = root.length > 1 && root.endsWith("/") ? root.slice(0, -1) : root;
    this.filters = filters;
    this.fsync = opts.fsync ?? true;
  }

  /** Applies the filters to a name (already checked with checkName). */
  locate(name: string): Located {
    const sub = routeName(this.filters, name);
    const dir = sub === "" ? this.root : join(this.root, sub);
    return { dir, path: join(dir, name) };
  }

  /** The directory `LS <filter>` lists. */
  listDir(filter: string): string {
    const sub = routeName(this.filters, filter);
    return sub === "" ? this.root : join(this.root, sub);
  }

  /** Creates every filter directory (the reference expects them to exist already). */
  async prepare(): Promise<void> {
    for (const f of this.filters) await Deno.mkdir(join(this.root, f.dir), { recursive: true });
  }

  /** What is at `path`: a regular file, something else, or nothing. */
  async kind(path: string): Promise<"file" | "other" | "none"> {
    try {
      const st = await Deno.stat(path);
      return st.isFile ? "file" : "other";
    } catch (e) {
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        return "none";
      }
      throw e;
    }
  }

  /** A fresh hidden temporary path in `dir` (not created). */
  tempPath(dir: string, suffix = ""): string {
    return join(dir, TEMP_PREFIX + randomTag() + suffix);
  }

  /** Opens a new hidden temporary file in `dir`, creating `dir` if needed. */
  async createTemp(dir: string, suffix = ""): Promise<TempFile> {
    const path = this.tempPath(dir, suffix);
    const open = () => Deno.open(path, { write: true, read: true, createNew: true, mode: 0o666 });
    try {
      return { path, file: await open() };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      await Deno.mkdir(dir, { recursive: true }); // a filter directory removed since start-up
      return { path, file: await open() };
    }
  }

  /** Flushes a finished temporary file to disk and closes it. */
  async finish(t: TempFile): Promise<void> {
    if (this.fsync) await t.file.syncData();
    t.file.close();
  }

  /**
   * Moves a finished temporary file to `path`. Without `overwrite` an existing file wins and the
   * result is "exists" (link() is atomic, unlike a check followed by a rename). Holds the name's
   * lock so an MV in progress never deletes the new file.
   */
  async commit(tempPath: string, path: string, overwrite: boolean): Promise<"ok" | "exists"> {
    const release = await lock(path);
    try {
      if (overwrite) {
        if ((await this.kind(path)) === "other") return "exists";
        await Deno.rename(tempPath, path);
      } else {
        try {
          await Deno.link(tempPath, path);
        } catch (e) {
          if (e instanceof Deno.errors.AlreadyExists) return "exists";
          // File systems without hard links: check, then rename, still under the lock.
          if ((await this.kind(path)) !== "none") return "exists";
          await Deno.rename(tempPath, path);
          await this.syncDir(path);
          return "ok";
        }
        await Deno.remove(tempPath);
      }
      await this.syncDir(path);
      return "ok";
    } finally {
      release();
      await Deno.remove(tempPath).catch(() => {});
    }
  }

  async syncDir(path: string): Promise<void> {
    if (!this.fsync) return;
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    using d = await Deno.open(dir, { read: true });
    await d.sync();
  }

  /** Entries of a directory as `LS` shows them: `.` and `..` first, then servable names, sorted. */
  async list(dir: string): Promise<string[]> {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) if (listable(e.name)) names.push(e.name);
    names.sort();
    return [".", "..", ...names];
  }

  /** Removes temporary files older than `maxAgeMs` left by a crash, in the root and filter dirs. */
  async sweep(now: number, maxAgeMs: number): Promise<number> {
    const dirs = new Set([this.root, ...this.filters.map((f) => join(this.root, f.dir))]);
    let removed = 0;
    for (const dir of dirs) {
      try {
        for await (const e of Deno.readDir(dir)) {
          if (!e.isFile || !e.name.startsWith(TEMP_PREFIX)) continue;
          const p = join(dir, e.name);
          const st = await Deno.stat(p).catch(() => null);
          if (st && now - (st.mtime?.getTime() ?? 0) > maxAgeMs) {
            await Deno.remove(p).catch(() => {});
            removed++;
          }
        }
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    return removed;
  }
}

/** Opens a stored regular file for reading; null when missing or not a regular file. */
export async function openStored(
  path: string,
): Promise<{ file: Deno.FsFile; size: number; ino: number | null } | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (
      e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory ||
      e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.IsADirectory
    ) return null;
    throw e;
  }
  const st = await file.stat();
  if (!st.isFile) {
    file.close();
    return null;
  }
  return { file, size: st.size, ino: st.ino };
}

/** Deletes `path` only if it is still the file that was opened (same inode). */
export async function removeIfSame(path: string, ino: number | null): Promise<boolean> {
  try {
    if (ino !== null && (await Deno.stat(path)).ino !== ino) return false;
    await Deno.remove(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
