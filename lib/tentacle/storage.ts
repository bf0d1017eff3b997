/**
 * The storage directory: routing names through filters, hidden temporary files made visible only by
 * an atomic rename after fsync, listings without partial files, and per-name locks.
 *
 * Metadata calls on the per-file path (lstat, realpath, rename, link, unlink, opening a directory)
 * are synchronous: each takes microseconds on a local file system, while an async call hops to
 * Deno's blocking thread pool and back, which cost more than the call itself (a SEND of a small
 * file made ten such hops; on 2 busy cores that alone held us to a third of Perl's rate). Creating
 * the temporary file is one of them too, as in the reference, which does all its file I/O
 * blocking. What waits on the disk itself stays async, so other sessions (and, inside `dmonitor
 * run`, the rest of the node) go on meanwhile: fdatasync and fsync, and bodies larger than one
 * chunk.
 * @module
 */

import { constants as FS, existsSync } from "node:fs";
import fsp, { type FileHandle } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { type Filter, listable, RESERVED_PREFIX, routeName } from "./protocol.ts";

/** Prefix of the hidden files uploads are written to before they are renamed into place. */
export const TEMP_PREFIX = `${RESERVED_PREFIX}.tmp.`;

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = FS;

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

/**
 * Largest body written (or read) synchronously: one chunk into the page cache costs microseconds,
 * less than the hop to the blocking pool an async write takes. Larger bodies stay async, so a big
 * upload waiting on dirty-page writeback never stalls the other sessions.
 */
export const SYNC_IO_MAX = 64 * 1024;

/** Writes all of `data` synchronously (for small bodies, see SYNC_IO_MAX). */
export function writeAllSync(f: Deno.FsFile, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += f.writeSync(data.subarray(off));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const tagBytes = new Uint8Array(8);

/** A random suffix for temporary names (16 hex digits). */
function randomTag(): string {
  crypto.getRandomValues(tagBytes);
  let out = "";
  for (const b of tagBytes) out += HEX[b];
  return out;
}

/** `dir/name` for a plain name (no slash, not a dot name) and a directory without a trailing slash. */
function below(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
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
  /** The root with every link resolved (set by prepare()); nothing outside it is ever served. */
  realRoot: string;

  constructor(root: string, filters: readonly Filter[], opts: { fsync?: boolean } = {}) {
    // Normalised once, so that paths below it need no join() per file (see below()).
    const n = normalize(root);
    this.root = n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
    this.filters = filters;
    this.fsync = opts.fsync ?? true;
    this.realRoot = this.root;
  }

  /** Opens a stored file without following links out of the storage directory (openStored). */
  open(path: string): Promise<StoredFile | Refusal | null> {
    return openStored(path, this.realRoot);
  }

  /** Whether `dir` is the storage directory or inside it, once every link is resolved. */
  contains(dir: string): Promise<boolean> {
    return inside(this.realRoot, dir);
  }

  /** Applies the filters to a name (already checked with checkName). */
  locate(name: string): Located {
    const sub = routeName(this.filters, name);
    const dir = sub === "" ? this.root : join(this.root, sub);
    // A checked name has no slash and is not "." or "..": joining needs no normalisation.
    return { dir, path: below(dir, name) };
  }

  /** The directory `LS <filter>` lists. */
  listDir(filter: string): string {
    const sub = routeName(this.filters, filter);
    return sub === "" ? this.root : join(this.root, sub);
  }

  /** Creates every filter directory (the reference expects them to exist already). */
  async prepare(): Promise<void> {
    this.realRoot = await Deno.realPath(this.root);
    for (const f of this.filters) await Deno.mkdir(join(this.root, f.dir), { recursive: true });
  }

  /**
   * Like kind(), without the cost of an exception in the usual case (nothing there): a dangling
   * symbolic link also reads as "none", which commit() then refuses (link() replaces nothing).
   */
  quickKind(path: string): "file" | "other" | "none" {
    return existsSync(path) ? this.kind(path) : "none";
  }

  /** What is at `path`: a regular file, something else (a symbolic link too), or nothing. */
  kind(path: string): "file" | "other" | "none" {
    try {
      const st = Deno.lstatSync(path);
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
    return below(dir, TEMP_PREFIX + randomTag() + suffix);
  }

  /**
   * Opens a new hidden temporary file in `dir`, creating `dir` if needed; synchronously, as the
   * other metadata calls (see the module note).
   */
  createTemp(dir: string, suffix = ""): TempFile {
    const path = this.tempPath(dir, suffix);
    const open = () =>
      Deno.openSync(path, { write: true, read: true, createNew: true, mode: 0o666 });
    try {
      return { path, file: open() };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      Deno.mkdirSync(dir, { recursive: true }); // a filter directory removed since start-up
      return { path, file: open() };
    }
  }

  /** Flushes a finished temporary file to disk and closes it. */
  async finish(t: TempFile): Promise<void> {
    if (this.fsync) await t.file.syncData();
    t.file.close();
  }

  /**
   * Moves a finished temporary file to `path`. Without `overwrite` an existing file wins and the
   * result is "exists"; with it, only a regular file is replaced. link() comes first either way:
   * it is atomic, never replaces anything (a symbolic link, even a dangling one, included) and
   * costs no exception in the usual case; only a name taken already is looked at. Holds the name's
   * lock so an MV in progress never deletes the new file.
   *
   * With `leftovers`, a temporary name that link() has left behind is pushed there instead of
   * being unlinked at once: the caller removes it (removeLeftovers) once it has replied, so the
   * unlink is off the path of a small SEND. The name is hidden and never served meanwhile, and one
   * left by a crash is swept at the next start.
   */
  async commit(
    tempPath: string,
    path: string,
    overwrite: boolean,
    leftovers?: string[],
  ): Promise<"ok" | "exists"> {
    const release = tryLock(path) ?? await lock(path);
    let placed = false; // the temporary name is gone (renamed, or linked and unlinked) or left over
    try {
      let linked = false;
      try {
        Deno.linkSync(tempPath, path);
        linked = true;
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists && (!overwrite || this.kind(path) !== "file")) {
          return "exists";
        }
      }
      if (linked) {
        if (leftovers) leftovers.push(tempPath);
        else Deno.removeSync(tempPath);
      } else {
        // Replacing a regular file, or a file system without hard links: check, then rename,
        // still under the lock.
        const kind = this.kind(path);
        if (kind === "other" || (kind === "file" && !overwrite)) return "exists";
        Deno.renameSync(tempPath, path);
      }
      placed = true;
      if (this.fsync) await this.syncDir(path); // (checked here too: no promise when off)
      return "ok";
    } finally {
      release();
      if (!placed) {
        try {
          Deno.removeSync(tempPath);
        } catch { /* already gone */ }
      }
    }
  }

  /** Unlinks the temporary names commit() left over (see there); never throws. */
  removeLeftovers(leftovers: string[]): void {
    for (const p of leftovers) {
      try {
        Deno.removeSync(p);
      } catch { /* already gone: the sweep would have had nothing to do either */ }
    }
    leftovers.length = 0;
  }

  async syncDir(path: string): Promise<void> {
    if (!this.fsync) return;
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    using d = Deno.openSync(dir, { read: true });
    await d.sync();
  }

  /** Entries of a directory as `LS` shows them: `.` and `..` first, then servable names, sorted. */
  async list(dir: string): Promise<string[]> {
    if (!(await this.contains(dir))) {
      throw new Error(`${dir} is outside the storage directory ${this.root}`);
    }
    const names: string[] = [];
    // Regular files and directories only: a symbolic link (or a FIFO) is never offered.
    for await (const e of Deno.readDir(dir)) {
      if ((e.isFile || e.isDirectory) && listable(e.name)) names.push(e.name);
    }
    names.sort();
    return [".", "..", ...names];
  }

  /** Removes temporary files older than `maxAgeMs` left by a crash, in the root and filter dirs. */
  async sweep(now: number, maxAgeMs: number): Promise<number> {
    const dirs = new Set([this.root, ...this.filters.map((f) => join(this.root, f.dir))]);
    let removed = 0;
    for (const dir of dirs) {
      if (!(await this.contains(dir))) continue;
      try {
        for await (const e of Deno.readDir(dir)) {
          if (!e.isFile || !e.name.startsWith(TEMP_PREFIX)) continue;
          const p = join(dir, e.name);
          const st = await Deno.lstat(p).catch(() => null);
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

/** A stored file opened for reading (without following a symbolic link); see Storage.open. */
export class StoredFile implements Readable {
  constructor(
    readonly handle: FileHandle,
    readonly size: number,
    readonly ino: number | null,
    readonly dev: number | null,
    readonly mtime: Date | null,
  ) {}

  async read(p: Uint8Array): Promise<number | null> {
    const { bytesRead } = await this.handle.read(p, 0, p.length, null);
    return bytesRead === 0 ? null : bytesRead;
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => {});
  }
}

/** Why a name that exists was not served: a link, something that is not a file, or outside. */
export type Refusal = { refused: string };

const MISSING = new Set(["ENOENT", "ENOTDIR", "EACCES", "EPERM", "EISDIR"]);

/**
 * Opens `path` for reading: never through a symbolic link (O_NOFOLLOW), never blocking on a FIFO
 * (O_NONBLOCK), regular files only, in a directory inside `root` (`realRoot`: resolved); and after
 * opening, the handle must still be the file at `path` (fstat vs lstat, same device and inode),
 * so a swap between the checks and the open is refused too. Null when there is no such file.
 */
export async function openStored(
  path: string,
  realRoot: string | null = null,
): Promise<StoredFile | Refusal | null> {
  if (realRoot !== null && !(await inside(realRoot, dirname(path)))) {
    return { refused: "its directory is outside the storage directory" };
  }
  let handle: FileHandle;
  try {
    handle = await fsp.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    if (code === "ELOOP") return { refused: "it is a symbolic link" };
    if (MISSING.has(code)) return null;
    throw e;
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) return await close(handle, null);
    if (!st.isFile()) return await close(handle, { refused: "it is not a regular file" });
    const now = await Deno.lstat(path).catch(() => null);
    const moved = realRoot !== null && !(await inside(realRoot, dirname(path)));
    if (!now || !now.isFile || now.ino !== st.ino || now.dev !== st.dev || moved) {
      return await close(handle, { refused: "it changed while being opened" });
    }
    return new StoredFile(handle, st.size, st.ino, st.dev, st.mtime ?? null);
  } catch (e) {
    await handle.close().catch(() => {});
    throw e;
  }
}

async function close<T>(handle: FileHandle, out: T): Promise<T> {
  await handle.close().catch(() => {});
  return out;
}

/** Whether `dir` resolves (every link followed) to `realRoot` or a directory below it. */
export function inside(realRoot: string, dir: string): Promise<boolean> {
  try {
    return Promise.resolve(insideSync(realRoot, dir));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** inside(), synchronously (realpath is a few readlink calls: see the module note). */
export function insideSync(realRoot: string, dir: string): boolean {
  let real: string;
  try {
    real = Deno.realPathSync(dir);
  } catch (e) {
    // A directory that does not exist yet (a filter directory removed since start-up) holds
    // nothing to serve; it is created by mkdir, which never follows a final link.
    if (e instanceof Deno.errors.NotFound) return !danglingLink(dir);
    throw e;
  }
  return real === realRoot || real.startsWith(realRoot === "/" ? "/" : realRoot + "/");
}

function danglingLink(path: string): boolean {
  for (let p = path; p !== dirname(p); p = dirname(p)) {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch {
      continue;
    }
    return st.isSymlink;
  }
  return false;
}

/**
 * Deletes `path` only if it is still the file that was opened (same device and inode) and not a
 * symbolic link (unlink never follows one anyway).
 */
export async function removeIfSame(
  path: string,
  ino: number | null,
  dev: number | null = null,
): Promise<boolean> {
  try {
    const st = await Deno.lstat(path);
    if (!st.isFile) return false;
    if (ino !== null && st.ino !== ino) return false;
    if (dev !== null && st.dev !== dev) return false;
    await Deno.remove(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
