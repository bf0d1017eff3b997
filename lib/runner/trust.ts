/**
 * Whether dmonitor may run an executable (a plugin or a `.command` alert channel): the rules
 * OpenSSH applies to authorized_keys under StrictModes (`secure_filename`) and sudo to its plugins.
 *
 * The file and every directory above it, up to `/`, must be owned by root or by dmonitor's own
 * user and must not be writable by group or others; a sticky world-writable directory such as
 * /tmp is refused too, as OpenSSH does. Symlinks are resolved one step at a time and every step
 * is checked: each link (its owner) and every directory of each target. The file must be a
 * regular file without the setuid or setgid bit, executable by the user it will run as, and
 * every directory on the way must be searchable by that user.
 *
 * Why this closes the check-then-exec race: once nothing on the path can be changed by anyone
 * but root or dmonitor's own user, nobody else can swap the file (or a directory or link above
 * it) between the check and the exec, which is OpenSSH's reasoning. Exec'ing the opened file
 * instead (`/proc/self/fd/N`) was tried: it works for ELF binaries but not for `#!` scripts,
 * whose interpreter is handed a path whose descriptor the exec already closed (Deno opens files
 * close-on-exec and cannot clear the flag), so it would break nearly every plugin.
 *
 * One walker, written as a generator of file-system requests, is driven synchronously for
 * `dmonitor config check` (config validators are synchronous) and before each plugin run (there
 * replayed, trust_replay.ts), asynchronously for command channels, so all give exactly the same
 * answer with exactly the same message.
 * @module
 */
import type { RunAs } from "./safety.ts";

/** Who may own the path and who will run the file. */
export interface TrustOptions {
  /** dmonitor's own uid; null where the platform has none (then only root may own the path). */
  nodeUid: number | null;
  /** The user the executable runs as; null: dmonitor's own user. */
  runAs: RunAs | null;
}

/** The parts of `Deno.FileInfo` (from lstat) the rules need. */
export interface EntryInfo {
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  /** `st_mode`, null where the platform has none. */
  mode: number | null;
  uid: number | null;
  gid: number | null;
}

/** Most symlinks followed for one path (Linux's MAXSYMLINKS). */
export const MAX_LINKS = 40;

/** A file-system call the walker needs. */
export type Request = { op: "lstat"; path: string } | { op: "readlink"; path: string };
/** Its outcome, handed back to the walker. */
export type Reply = { info: EntryInfo } | { target: string } | { error: unknown };

const octal = (mode: number) => `mode ${(mode & 0o7777).toString(8).padStart(4, "0")}`;

function ownerProblem(path: string, what: string, info: EntryInfo, o: TrustOptions) {
  if (info.uid === 0 || (info.uid !== null && info.uid === o.nodeUid)) return null;
  const who = o.nodeUid === null || o.nodeUid === 0
    ? "root"
    : `root or dmonitor's own user (uid ${o.nodeUid})`;
  return `${path} is ${what}owned by uid ${info.uid}, not by ${who}`;
}

function writableProblem(path: string, mode: number): string | null {
  const by = [mode & 0o020 ? "group" : "", mode & 0o002 ? "others" : ""].filter(Boolean);
  if (by.length === 0) return null;
  const sticky = (mode & 0o1000) !== 0 ? "; a sticky directory like /tmp is not safe either" : "";
  return `${path} is writable by ${by.join(" and ")} (${
    octal(mode)
  }); run chmod go-w on it${sticky}`;
}

/** The permission bit (owner, group or other) that applies to `runAs` for this entry. */
function bitFor(info: EntryInfo, runAs: RunAs, owner: number): number {
  return info.uid === runAs.uid ? owner : info.gid === runAs.gid ? owner >> 3 : owner >> 6;
}

/**
 * Why the directory `path` must not be on the way to an executable, or null. Pure.
 *
 * @example
 * ```ts
 * dirProblem("/opt/p", { isFile: false, isDirectory: true, isSymlink: false, mode: 0o40775,
 *   uid: 0, gid: 0 }, { nodeUid: 0, runAs: null });
 * // "/opt/p is writable by group (mode 0775); run chmod go-w on it"
 * ```
 */
export function dirProblem(path: string, info: EntryInfo, o: TrustOptions): string | null {
  if (info.mode === null || info.uid === null) return `cannot read the owner and mode of ${path}`;
  const mode = info.mode & 0o7777;
  const problem = ownerProblem(path, "", info, o) ?? writableProblem(path, mode);
  if (problem) return problem;
  if (o.runAs && o.runAs.uid !== 0 && (mode & bitFor(info, o.runAs, 0o100)) === 0) {
    return `${path} is not searchable by uid ${o.runAs.uid} (${octal(mode)})`;
  }
  return null;
}

/** Why the executable itself (already known not to be a link) must not run, or null. Pure. */
export function fileProblem(path: string, info: EntryInfo, o: TrustOptions): string | null {
  if (!info.isFile) return `${path} is not a regular file`;
  if (info.mode === null || info.uid === null) return `cannot read the owner and mode of ${path}`;
  const mode = info.mode & 0o7777;
  const problem = ownerProblem(path, "", info, o) ?? writableProblem(path, mode);
  if (problem) return problem;
  if (mode & 0o6000) {
    const bits = [mode & 0o4000 ? "setuid" : "", mode & 0o2000 ? "setgid" : ""].filter(Boolean);
    return `${path} has the ${bits.join(" and ")} bit (${octal(mode)}); ` +
      "plugins run without privileges: run chmod ug-s on it";
  }
  if (o.runAs && o.runAs.uid !== 0) {
    if ((mode & bitFor(info, o.runAs, 0o100)) === 0) {
      return `${path} is not executable by uid ${o.runAs.uid} (${octal(mode)})`;
    }
  } else if ((mode & 0o111) === 0) {
    return `${path} is not executable (${octal(mode)})`;
  }
  return null;
}

function errorText(path: string, err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return `${path} does not exist`;
  if (err instanceof Deno.errors.PermissionDenied) return `permission denied reading ${path}`;
  return `cannot inspect ${path}: ${err instanceof Error ? err.message : String(err)}`;
}

/** Splits a path into its non-empty components. */
const parts = (p: string) => p.split("/").filter((c) => c !== "" && c !== ".");

/**
 * The walker: yields the lstat/readlink calls it needs, returns the refusal or null. It is a pure
 * function of the replies: the same replies give the same requests and the same answer (what
 * trust_replay.ts relies on).
 */
export function* walk(path: string, o: TrustOptions): Generator<Request, string | null, Reply> {
  if (!path.startsWith("/")) return `${path} is not an absolute path`;
  const checked = new Set<string>();
  /** `known`: the directory's lstat, when the caller has just made it (no second call). */
  const checkDir = function* (
    dir: string,
    known?: EntryInfo,
  ): Generator<Request, string | null, Reply> {
    if (checked.has(dir)) return null;
    let info = known;
    if (!info) {
      const r = yield { op: "lstat", path: dir };
      if ("error" in r) return errorText(dir, r.error);
      if (!("info" in r)) return `cannot inspect ${dir}`;
      info = r.info;
    }
    if (!info.isDirectory) return `${dir} is not a directory`;
    const problem = dirProblem(dir, info, o);
    if (!problem) checked.add(dir);
    return problem;
  };
  let problem = yield* checkDir("/");
  if (problem) return problem;
  let dir = "/";
  const todo = parts(path);
  let links = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === "..") {
      // `dir` is already resolved, so its parent is a real directory already checked.
      dir = dir === "/" ? "/" : dir.slice(0, dir.lastIndexOf("/")) || "/";
      continue;
    }
    const here = dir === "/" ? `/${name}` : `${dir}/${name}`;
    const r = yield { op: "lstat", path: here };
    if ("error" in r) return errorText(here, r.error);
    if (!("info" in r)) return `cannot inspect ${here}`;
    const info = r.info;
    if (info.isSymlink) {
      if (++links > MAX_LINKS) return `${path} has too many levels of symbolic links`;
      // Nobody can change a link in place; its directory (already checked) guards it. Its owner
      // is still checked, as for every other step.
      problem = ownerProblem(here, "a symlink ", info, o);
      if (problem) return problem;
      const t = yield { op: "readlink", path: here };
      if ("error" in t) return errorText(here, t.error);
      if (!("target" in t)) return `cannot read the link ${here}`;
      if (t.target.startsWith("/")) dir = "/";
      todo.unshift(...parts(t.target));
      continue;
    }
    if (todo.length === 0) return fileProblem(here, info, o);
    if (!info.isDirectory) return `${here} is not a directory`;
    problem = yield* checkDir(here, info);
    if (problem) return problem;
    dir = here;
  }
  return `${path} is a directory, not a file`;
}

/** What the walk looks at in a stat. */
export function toInfo(st: Deno.FileInfo): EntryInfo {
  return {
    isFile: st.isFile,
    isDirectory: st.isDirectory,
    isSymlink: st.isSymlink,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
  };
}

/**
 * Why `path` must not be run, or null when it may (synchronous: for config validators).
 *
 * @example
 * ```ts
 * trustProblemSync("/etc/dmonitor/plugins/check_x", { nodeUid: 0, runAs: null });
 * // "/etc/dmonitor/plugins is writable by group (mode 0775); run chmod go-w on it"
 * ```
 */
export function trustProblemSync(path: string, o: TrustOptions): string | null {
  const it = walk(path, o);
  let step = it.next(undefined as unknown as Reply);
  while (!step.done) {
    const req = step.value;
    let reply: Reply;
    try {
      reply = req.op === "lstat"
        ? { info: toInfo(Deno.lstatSync(req.path)) }
        : { target: Deno.readLinkSync(req.path) };
    } catch (error) {
      reply = { error };
    }
    step = it.next(reply);
  }
  return step.value;
}

/** {@link trustProblemSync} with asynchronous file-system calls (the run-time check). */
export async function trustProblem(path: string, o: TrustOptions): Promise<string | null> {
  const it = walk(path, o);
  let step = it.next(undefined as unknown as Reply);
  while (!step.done) {
    const req = step.value;
    let reply: Reply;
    try {
      reply = req.op === "lstat"
        ? { info: toInfo(await Deno.lstat(req.path)) }
        : { target: await Deno.readLink(req.path) };
    } catch (error) {
      reply = { error };
    }
    step = it.next(reply);
  }
  return step.value;
}
