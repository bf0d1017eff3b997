/**
 * The one way dmonitor reads a file of its configuration tree (hosts.d, alert.d, silence.d,
 * sites.d, keys, certificates), at start and at run time. Only regular files are read, with a
 * size cap and a deadline:
 *
 * - the path is inspected with lstat (and, for a symbolic link, stat of its target) first, so a
 *   FIFO, a device or a socket is refused without ever being opened (opening a device can have
 *   effects: a watchdog starts, a tape rewinds);
 * - the file is then opened with O_NONBLOCK, so a FIFO swapped in after the check cannot block the
 *   open, and with O_NOFOLLOW on the resolved path, so a link swapped in is refused;
 * - the opened handle is fstat'ed: it must be a regular file with the device and inode seen
 *   before, which closes the swap race; reads stop one byte past the cap, whatever stat said.
 *
 * Symbolic links to regular files are followed (certificates under /etc/letsencrypt/live are
 * links). Deno.open takes no O_NONBLOCK or O_NOFOLLOW, and node:fs, which passes them on, costs
 * several MiB of Node compatibility layer (issue 14), so the open is libc's open(2) by FFI
 * (lib/runtime/libc.ts); the descriptor is fstat'ed through /proc/self/fd/N and, once it is known
 * to be the regular file inspected, reopened there with Deno.open for the reads (a regular file
 * cannot block an open), and closed. Without --allow-ffi, see {@link confirmed}.
 * @module
 */
import { TreeFileError } from "../errors/mod.ts";
import { deadline } from "../clock/mod.ts";
// By path, not ../runtime/mod.ts: that also loads gc.ts (node:v8, node:vm).
import { errno, libc, libcUnavailable, O } from "../runtime/libc.ts";

export { TreeFileError };

/** Caps by kind of file, in bytes. */
export const LIMITS = {
  /** hosts.d tests, alert.d entries, nodes.txt, dmonitor.yaml. */
  config: 256 * 1024,
  /** silence.d entries: an end time and a reason. */
  silence: 64 * 1024,
  /** peer.key, status tokens, passwords. */
  secret: 64 * 1024,
  /** TLS certificates, keys and CA bundles. */
  pem: 1024 * 1024,
} as const;

/** How long one file may take to read at run time before it is given up. */
export const DEFAULT_DEADLINE_MS = 5_000;

/** The most entries one directory listing returns. */
export const MAX_DIR_ENTRIES = 100_000;

export interface ReadOptions {
  /** Refuse the file when it holds more than this many bytes. */
  maxBytes: number;
  /** Give up after this long (default {@link DEFAULT_DEADLINE_MS}). */
  deadlineMs?: number;
  signal?: AbortSignal;
}

const OPEN_FLAGS = O.O_RDONLY | O.O_NONBLOCK | O.O_NOFOLLOW | O.O_CLOEXEC;
const CHUNK = 64 * 1024;
const DECODER = new TextDecoder();
const ENCODER = new TextEncoder();

type Stats = Deno.FileInfo;

/** What a stat result is, as a message says it: "a FIFO", "a character device", ... */
export function describeKind(st: Stats): string {
  if (st.isFile) return "a regular file";
  if (st.isDirectory) return "a directory";
  if (st.isFifo) return "a FIFO";
  if (st.isCharDevice) return "a character device";
  if (st.isBlockDevice) return "a block device";
  if (st.isSocket) return "a socket";
  if (st.isSymlink) return "a symbolic link";
  return "a special file";
}

/** errno values the messages tell apart (the same on x86_64 and aarch64). */
const ERRNO: Record<number, [code: string, text: string]> = {
  1: ["EPERM", "Operation not permitted"],
  2: ["ENOENT", "No such file or directory"],
  5: ["EIO", "Input/output error"],
  13: ["EACCES", "Permission denied"],
  20: ["ENOTDIR", "Not a directory"],
  23: ["ENFILE", "Too many open files in system"],
  24: ["EMFILE", "Too many open files"],
  36: ["ENAMETOOLONG", "File name too long"],
  40: ["ELOOP", "Too many levels of symbolic links"],
};

/** An open(2) failure as Deno reports its own (`code`, "Permission denied (os error 13): ..."). */
class OpenError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

function openError(target: string, n: number): OpenError {
  const [code, text] = ERRNO[n] ?? [`errno ${n}`, `error ${n}`];
  return new OpenError(code, `${text} (os error ${n}): open '${target}'`);
}

function cString(path: string): Uint8Array<ArrayBuffer> {
  const bytes = ENCODER.encode(path + "\0");
  if (bytes.indexOf(0) !== bytes.length - 1) {
    throw new OpenError("EINVAL", `the path holds a NUL byte: open '${path}'`);
  }
  return bytes;
}

function noLibc(target: string): OpenError {
  return new OpenError("ENOSYS", `cannot open without libc (${libcUnavailable()}): '${target}'`);
}

/**
 * open(2) of `target` with O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC: a FIFO does not block
 * it, a symbolic link in the last component fails it (ELOOP). Returns the descriptor; throws
 * {@link OpenError} with the errno's code. Exported for the tests.
 */
export function openNoFollowSync(target: string): number {
  const c = libc();
  if (c === null) throw noLibc(target);
  const fd = c.open(cString(target), OPEN_FLAGS, 0);
  if (fd < 0) throw openError(target, errno(c));
  return fd;
}

/** {@link openNoFollowSync} on Deno's blocking pool (a hung mount does not hold the thread). */
export async function openNoFollow(target: string): Promise<number> {
  const c = libc();
  if (c === null) throw noLibc(target);
  const name = cString(target);
  const fd = await c.open_nonblocking(name, OPEN_FLAGS, 0);
  name.fill(0); // (and keeps the buffer alive until the pool's thread is done with it)
  // errno belongs to the pool's thread: repeat the failed open here to learn it (it failed once
  // already, so the file system answers). Should it succeed this time, that descriptor is used.
  return fd >= 0 ? fd : openNoFollowSync(target);
}

function closeFd(fd: number): void {
  libc()?.close(fd);
}

/** The descriptor's own file: stat of /proc/self/fd/N follows it to what it has open (fstat). */
const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

function errorCode(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

function fail(path: string, e: unknown): TreeFileError {
  if (e instanceof TreeFileError) return e;
  const code = errorCode(e);
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new TreeFileError(path, "missing", `Cannot read ${path}: it does not exist`, {
      cause: e,
    });
  }
  if (code === "ELOOP") {
    return new TreeFileError(
      path,
      "not-regular",
      `Cannot read ${path}: it was replaced by a symbolic link while being opened`,
      { cause: e },
    );
  }
  const why = (e as Error).message.replace(/, (open|read|stat|lstat|realpath) .*$/, "")
    .replace(/ \(os error \d+\): (open|read|stat|lstat|realpath|readlink|fstat) .*$/, "");
  return new TreeFileError(path, "unreadable", `Cannot read ${path}: ${why}`, { cause: e });
}

/** The target to open and what it must be, from lstat (+ stat for a link); throws when refused. */
interface Checked {
  target: string;
  dev: number;
  ino: number;
}

function check(path: string, lst: Stats, target: string, st: Stats | null, max: number) {
  const link = lst.isSymlink;
  if (st === null) {
    throw new TreeFileError(
      path,
      "missing",
      `Cannot read ${path}: it is a symbolic link to ${target}, which does not exist`,
    );
  }
  if (!st.isFile) {
    const what = describeKind(st);
    throw new TreeFileError(
      path,
      "not-regular",
      link
        ? `Cannot read ${path}: it links to ${target}, ${what}; only regular files are read`
        : `Cannot read ${path}: it is ${what}; only regular files are read`,
    );
  }
  if (st.size > max) throw tooLarge(path, st.size, max);
  return { target, dev: st.dev, ino: st.ino ?? -1 };
}

/** `size` from stat; when stat said less than was read (a /proc file says 0), "more than". */
function tooLarge(path: string, size: number, max: number): TreeFileError {
  const is = size > max ? `it is ${size} bytes` : `it holds more than ${max} bytes`;
  return new TreeFileError(
    path,
    "too-large",
    `Cannot read ${path}: ${is}, at most ${max} are read`,
    {
      size: Math.max(size, max + 1),
    },
  );
}

function confirm(path: string, c: Checked, st: Stats): void {
  if (!st.isFile || st.dev !== c.dev || (st.ino ?? -1) !== c.ino) {
    throw new TreeFileError(
      path,
      "not-regular",
      `Cannot read ${path}: it was replaced while being opened (now ${describeKind(st)})`,
    );
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function inspectSync(path: string, max: number): Checked {
  const lst = Deno.lstatSync(path);
  if (!lst.isSymlink) return check(path, lst, path, lst, max);
  let target: string;
  try {
    target = Deno.realPathSync(path);
  } catch (e) {
    if (errorCode(e) === "ENOENT") return check(path, lst, Deno.readLinkSync(path), null, max);
    throw e;
  }
  return check(path, lst, target, Deno.statSync(target), max);
}

/**
 * Without FFI (a hand-run `deno run` without --allow-ffi; the release build has --allow-all),
 * Deno's own open: the lstat before and the fstat after still refuse anything but the regular
 * file inspected, but a FIFO or link swapped in between the two could block or redirect the open.
 */
function confirmed(path: string, c: Checked, file: Deno.FsFile): Deno.FsFile {
  try {
    confirm(path, c, file.statSync());
    return file;
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Opens what {@link inspectSync} found, confirms the descriptor is that regular file, and returns
 * it reopened through /proc/self/fd for Deno's reads; the raw descriptor is closed.
 */
function openCheckedSync(path: string, c: Checked): Deno.FsFile {
  if (libc() === null) return confirmed(path, c, Deno.openSync(c.target, { read: true }));
  const fd = openNoFollowSync(c.target);
  try {
    confirm(path, c, Deno.statSync(fdPath(fd)));
    return Deno.openSync(fdPath(fd), { read: true });
  } finally {
    closeFd(fd);
  }
}

async function openChecked(path: string, c: Checked, signal: AbortSignal): Promise<Deno.FsFile> {
  if (libc() === null) return confirmed(path, c, await Deno.open(c.target, { read: true }));
  const fd = await openNoFollow(c.target);
  try {
    signal.throwIfAborted();
    confirm(path, c, await Deno.stat(fdPath(fd)));
    return await Deno.open(fdPath(fd), { read: true });
  } finally {
    closeFd(fd);
  }
}

/**
 * Reads a regular file of the tree, synchronously (start and reload, where the tree is a few
 * thousand small files). Throws {@link TreeFileError} naming the path and what was found.
 * The deadline is checked between reads of 64 KiB.
 */
export function readTreeFileSync(path: string, opts: ReadOptions): Uint8Array {
  const until = Date.now() + (opts.deadlineMs ?? DEFAULT_DEADLINE_MS);
  let file: Deno.FsFile | null = null;
  try {
    const c = inspectSync(path, opts.maxBytes);
    file = openCheckedSync(path, c);
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (true) {
      if (Date.now() > until) throw timeout(path, opts);
      const buf = new Uint8Array(Math.min(CHUNK, opts.maxBytes + 1 - total));
      const n = file.readSync(buf);
      if (n === null || n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      if (total > opts.maxBytes) throw tooLarge(path, file.statSync().size, opts.maxBytes);
    }
    return concat(chunks, total);
  } catch (e) {
    throw fail(path, e);
  } finally {
    file?.close();
  }
}

/** {@link readTreeFileSync} decoded as UTF-8. */
export function readTreeTextSync(path: string, opts: ReadOptions): string {
  return DECODER.decode(readTreeFileSync(path, opts));
}

function timeout(path: string, opts: ReadOptions): TreeFileError {
  return new TreeFileError(
    path,
    "timeout",
    `Cannot read ${path}: not read within ${opts.deadlineMs ?? DEFAULT_DEADLINE_MS} ms`,
  );
}

async function inspect(path: string, max: number): Promise<Checked> {
  const lst = await Deno.lstat(path);
  if (!lst.isSymlink) return check(path, lst, path, lst, max);
  let target: string;
  try {
    target = await Deno.realPath(path);
  } catch (e) {
    if (errorCode(e) === "ENOENT") {
      return check(path, lst, await Deno.readLink(path), null, max);
    }
    throw e;
  }
  return check(path, lst, target, await Deno.stat(target), max);
}

async function readAsync(path: string, max: number, signal: AbortSignal): Promise<Uint8Array> {
  const c = await inspect(path, max);
  signal.throwIfAborted();
  const fh = await openChecked(path, c, signal);
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (true) {
      signal.throwIfAborted();
      const buf = new Uint8Array(Math.min(CHUNK, max + 1 - total));
      const n = await fh.read(buf);
      if (n === null || n === 0) break;
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
      total += n;
      if (total > max) throw tooLarge(path, (await fh.stat()).size, max);
    }
    return concat(chunks, total);
  } finally {
    fh.close();
  }
}

/**
 * Reads a regular file of the tree (run time: silence.d on every notification). Rejects with
 * {@link TreeFileError} when refused, unreadable, or not read within the deadline; the caller is
 * released at the deadline even when the file system itself hangs (an NFS mount gone away).
 */
export function readTreeFile(path: string, opts: ReadOptions): Promise<Uint8Array> {
  // Disposed once the read settles (not AbortSignal.timeout, whose timer would hold it for the
  // whole deadline after every fast read: silence.d is read per notification).
  const limit = deadline(opts.deadlineMs ?? DEFAULT_DEADLINE_MS, opts.signal);
  const signal = limit.signal;
  return new Promise<Uint8Array>((resolve, reject) => {
    const onAbort = () =>
      reject(
        limit.expired ? timeout(path, opts) : fail(path, signal.reason ?? new Error("aborted")),
      );
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    readAsync(path, opts.maxBytes, signal).then(
      (bytes) => resolve(bytes),
      (e) => reject(limit.expired ? timeout(path, opts) : fail(path, e)),
    ).finally(() => {
      signal.removeEventListener("abort", onAbort);
      limit[Symbol.dispose]();
    });
  });
}

/** {@link readTreeFile} decoded as UTF-8. */
export async function readTreeText(path: string, opts: ReadOptions): Promise<string> {
  return DECODER.decode(await readTreeFile(path, opts));
}

/** One entry of a tree directory, classified without opening it. */
export interface TreeDirEntry {
  name: string;
  /** "file" and "dir" include symbolic links to one; "other" is everything never read. */
  kind: "file" | "dir" | "other";
  /** For "other": what it is, for messages ("a FIFO", "links to /dev/zero, a character device"). */
  what: string;
  /** lstat's size, or the link target's. */
  size: number;
  /** Permission bits and owner of the file (a link's target), for files whose safety matters. */
  mode: number;
  uid: number;
}

function classify(dir: string, name: string, lst: Stats, st: Stats | null): TreeDirEntry {
  const link = lst.isSymlink;
  const real = link ? st : lst;
  if (real === null) {
    return { name, kind: "other", what: "a symbolic link to nothing", size: 0, mode: 0, uid: -1 };
  }
  const kind = real.isFile ? "file" : real.isDirectory ? "dir" : "other";
  let what = describeKind(real);
  if (link && kind === "other") {
    let to = "";
    try {
      to = Deno.realPathSync(`${dir}/${name}`);
    } catch { /* raced away */ }
    what = `a link to ${to || "a special file"}, ${describeKind(real)}`;
  }
  return { name, kind, what, size: real.size, mode: real.mode ?? 0, uid: real.uid ?? -1 };
}

/**
 * Classifies one path of the tree like {@link listTreeDirSync} does its entries, without opening
 * it; null when it does not exist.
 */
export function inspectTreeEntrySync(path: string): TreeDirEntry | null {
  let lst: Stats;
  try {
    lst = Deno.lstatSync(path);
  } catch (e) {
    if (errorCode(e) === "ENOENT") return null;
    throw fail(path, e);
  }
  let target: Stats | null = null;
  if (lst.isSymlink) {
    try {
      target = Deno.statSync(path);
    } catch { /* dangling */ }
  }
  const slash = path.lastIndexOf("/");
  return classify(path.slice(0, slash), path.slice(slash + 1), lst, target);
}

/**
 * Lists a directory of the tree, sorted by name, each entry classified by lstat (and stat of a
 * link's target) so nothing is opened. Throws {@link TreeFileError}: "missing" when `dir` does
 * not exist, "not-regular" when it is not a directory.
 */
export function listTreeDirSync(dir: string, opts: { maxEntries?: number } = {}): TreeDirEntry[] {
  const max = opts.maxEntries ?? MAX_DIR_ENTRIES;
  try {
    const st = Deno.statSync(dir);
    if (!st.isDirectory) {
      throw new TreeFileError(dir, "not-regular", `Cannot list ${dir}: it is ${describeKind(st)}`);
    }
    const out: TreeDirEntry[] = [];
    for (const d of Deno.readDirSync(dir)) {
      if (out.length >= max) {
        throw new TreeFileError(
          dir,
          "too-large",
          `Cannot list ${dir}: it holds more than ${max} entries`,
        );
      }
      const path = `${dir}/${d.name}`;
      let lst: Stats;
      try {
        lst = Deno.lstatSync(path);
      } catch {
        continue; // removed since readdir
      }
      let target: Stats | null = null;
      if (lst.isSymlink) {
        try {
          target = Deno.statSync(path);
        } catch { /* dangling */ }
      }
      out.push(classify(dir, d.name, lst, target));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    throw fail(dir, e);
  }
}

/** {@link listTreeDirSync} with a deadline, for run time. */
export function listTreeDir(
  dir: string,
  opts: { maxEntries?: number; deadlineMs?: number } = {},
): Promise<TreeDirEntry[]> {
  // A local readdir of a small directory is quick; the deadline is for a hung mount, which the
  // synchronous call cannot escape, so run it through the async stat first: a hung mount shows
  // there and releases the caller at the deadline.
  const ms = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () =>
        reject(new TreeFileError(dir, "timeout", `Cannot list ${dir}: no answer within ${ms} ms`)),
      ms,
    );
    Deno.stat(dir).then(
      () => resolve(listTreeDirSync(dir, opts)),
      (e) => reject(fail(dir, e)),
    ).catch(reject).finally(() => clearTimeout(t));
  });
}

/** What a {@link TreeFileError} says about its file, without the leading "Cannot read PATH: ". */
export function treeFileDetail(e: TreeFileError): string {
  for (const verb of ["read", "list"]) {
    const prefix = `Cannot ${verb} ${e.path}: `;
    if (e.message.startsWith(prefix)) return e.message.slice(prefix.length);
  }
  return e.message;
}
