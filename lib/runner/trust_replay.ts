/**
 * The run-time trust check of trust.ts at a fraction of its cost, with the same answer at every
 * run: for each plugin path whose last check passed, the file-system calls of that walk and
 * their replies are kept, and the next check makes the same calls again and compares.
 *
 * Why this is the check itself and not a cached verdict: {@link walk} is a pure function of the
 * replies to its requests, so if every call made now returns exactly what it returned in a walk
 * that passed (type, mode, owner and group of each entry, checked afresh by lstat now; the
 * target of each symlink, read now), the walk made now would make the same calls and pass too.
 * Nothing is trusted from an earlier moment: a chmod, chown, rename or replacement anywhere on
 * the path, by anyone, changes some reply (an entry now found at a name is lstat'ed at this
 * run) and sends the check through the full walk, with its exact refusal. The device and inode
 * are compared too, which the rules do not need. What is saved is the walker's JavaScript and
 * Deno's FileInfo (four Date objects per lstat): a replay is one statx(2) per entry through FFI
 * into one reused buffer: the check fell from 8.5% of the main thread's samples to 3.4% (perf, at
 * 1,500 runs a second, bench/plugin_throughput.ts).
 *
 * Where FFI or statx is unavailable, or statx cannot say owner and mode, every check is the
 * plain {@link trustProblemSync}.
 * @module
 */
import { type Libc, libc } from "../runtime/libc.ts";
import {
  type EntryInfo,
  type Reply,
  toInfo,
  type TrustOptions,
  trustProblemSync,
  walk,
} from "./trust.ts";

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
/** STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_INO */
const MASK = 0x1 | 0x2 | 0x8 | 0x10 | 0x100;
const S_IFMT = 0o170000;
/** Distinct plugin paths remembered; a config has far fewer. Past it, start over. */
const MAX_PATHS = 4096;

/** libc when it has statx(2) (glibc >= 2.28, musl >= 1.2.5), else null. */
function openLibc(): Libc | null {
  const c = libc();
  return c?.statx ? c : null;
}

/** The fields of struct statx compared (offsets are the same on every architecture). */
interface Meta {
  mode: number;
  uid: number;
  gid: number;
  ino: bigint;
  devMajor: number;
  devMinor: number;
}

const buf = new Uint8Array(256);
const view = new DataView(buf.buffer);
const encoder = new TextEncoder();

/** lstat as statx: null when the call failed or did not report every field asked for. */
function statx(lib: Libc, path: Uint8Array): Meta | null {
  if (lib.statx!(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, MASK, buf) !== 0) return null;
  if ((view.getUint32(0, true) & MASK) !== MASK) return null;
  return {
    mode: view.getUint16(28, true),
    uid: view.getUint32(20, true),
    gid: view.getUint32(24, true),
    ino: view.getBigUint64(32, true),
    devMajor: view.getUint32(136, true),
    devMinor: view.getUint32(140, true),
  };
}

function infoOf(m: Meta): EntryInfo {
  const type = m.mode & S_IFMT;
  return {
    isFile: type === 0o100000,
    isDirectory: type === 0o040000,
    isSymlink: type === 0o120000,
    mode: m.mode,
    uid: m.uid,
    gid: m.gid,
  };
}

const same = (a: Meta, b: Meta) =>
  a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.ino === b.ino &&
  a.devMajor === b.devMajor && a.devMinor === b.devMinor;

/** One call of a passing walk and its reply. */
type Step = { path: Uint8Array; meta: Meta } | { link: string; target: string };

const passed = new Map<string, Step[]>();

/**
 * Why `path` must not be run, or null: always the answer {@link trustProblemSync} gives now (see
 * the module doc), replayed from the last passing walk when nothing on the path changed.
 */
export function trustProblemReplayed(path: string, o: TrustOptions): string | null {
  const lib = openLibc();
  if (lib === null) return trustProblemSync(path, o);
  const key = `${o.nodeUid}\0${o.runAs?.uid}\0${o.runAs?.gid}\0${path}`;
  const steps = passed.get(key);
  if (steps && replays(lib, steps)) return null;
  passed.delete(key);
  const record: Step[] = [];
  let replayable = true;
  const it = walk(path, o);
  let step = it.next(undefined as unknown as Reply);
  while (!step.done) {
    const req = step.value;
    let reply: Reply | undefined;
    if (req.op === "lstat") {
      const c = encoder.encode(req.path + "\0");
      const meta = req.path.includes("\0") ? null : statx(lib, c);
      if (meta) {
        record.push({ path: c, meta });
        reply = { info: infoOf(meta) };
      }
    }
    if (reply === undefined) {
      // readlink, or statx failed: the plain call, whose error gives the walker's usual message.
      try {
        if (req.op === "lstat") {
          reply = { info: toInfo(Deno.lstatSync(req.path)) };
          replayable = false; // statx could not say it: keep nothing
        } else {
          const target = Deno.readLinkSync(req.path);
          record.push({ link: req.path, target });
          reply = { target };
        }
      } catch (error) {
        reply = { error };
      }
    }
    step = it.next(reply);
  }
  if (step.value === null && replayable) {
    if (passed.size >= MAX_PATHS) passed.clear();
    passed.set(key, record);
  }
  return step.value;
}

/** Whether every call of `steps`, made again now, returns what it returned then. */
function replays(lib: Libc, steps: Step[]): boolean {
  for (const s of steps) {
    if ("link" in s) {
      try {
        if (Deno.readLinkSync(s.link) !== s.target) return false;
      } catch {
        return false;
      }
      continue;
    }
    const now = statx(lib, s.path);
    if (now === null || !same(now, s.meta)) return false;
  }
  return true;
}
