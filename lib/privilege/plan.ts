/**
 * Who a command started as root becomes, and whether its state directory is usable by that user:
 * pure decisions over the current uid, the `run_as` setting, /etc/passwd and stat results.
 * @module
 */
import { lookupPasswd } from "../runner/user.ts";

/** The user dmonitor switches to by default, and the one used when that user does not exist. */
export const DEFAULT_USER = "dmonitor";
export const FALLBACK_USER = "nobody";

export type DropPlan =
  /** Not started as root: nothing to switch (a `run_as` naming someone else is only warned about). */
  | { kind: "stay"; warning?: string }
  /** `run_as: root`: stays root on purpose, with a warning to log. */
  | { kind: "keep-root"; warning: string }
  /** Switch to this user; `note` says why when it is the fallback. */
  | { kind: "drop"; user: string; uid: number; gid: number; note?: string }
  /** Cannot decide safely: the message is the one line to print. */
  | { kind: "refuse"; message: string };

/**
 * Decides the switch for a process running as `uid`. `runAs` is the configured user (undefined:
 * `dmonitor`, else `nobody`); `passwd` is the text of /etc/passwd; `allowRoot` is false for
 * tentacle-server, which never keeps root (Pandora's tentacle_server refuses to run as root).
 *
 * @example
 * ```ts
 * planDrop(0, undefined, "nobody:x:65534:65534::/:/bin/false\n");
 * // { kind: "drop", user: "nobody", uid: 65534, gid: 65534, note: "user dmonitor does not exist" }
 * ```
 */
export function planDrop(
  uid: number,
  runAs: string | undefined,
  passwd: string,
  o: { allowRoot?: boolean; setting?: string } = {},
): DropPlan {
  const setting = o.setting ?? "run_as";
  if (uid !== 0) {
    if (runAs === undefined || runAs === "root") return { kind: "stay" };
    const want = lookupPasswd(passwd, runAs);
    if (want && want.uid === uid) return { kind: "stay" };
    return {
      kind: "stay",
      warning:
        `${setting} ${runAs} is ignored: dmonitor was not started as root (uid ${uid}) and cannot switch user`,
    };
  }
  if (runAs === "root" || runAs === "0") {
    if (o.allowRoot === false) {
      return { kind: "refuse", message: `for safety reasons it cannot keep root privileges` };
    }
    return {
      kind: "keep-root",
      warning:
        `${setting}: root keeps every part of the node running as root (listeners, parsers, checks); prefer an unprivileged user`,
    };
  }
  if (runAs !== undefined) {
    const found = lookupPasswd(passwd, runAs);
    if (!found) {
      return { kind: "refuse", message: `${setting} ${runAs}: no such user in /etc/passwd` };
    }
    if (found.uid === 0) {
      return {
        kind: "refuse",
        message: `${setting} ${runAs} has uid 0; write run_as: root to keep root on purpose`,
      };
    }
    return { kind: "drop", user: runAs, uid: found.uid, gid: found.gid };
  }
  const own = namedEntry(passwd, DEFAULT_USER);
  if (own && own.uid !== 0) return { kind: "drop", user: DEFAULT_USER, ...own };
  const nobody = namedEntry(passwd, FALLBACK_USER);
  if (nobody && nobody.uid !== 0) {
    return {
      kind: "drop",
      user: FALLBACK_USER,
      ...nobody,
      note: `user ${DEFAULT_USER} does not exist`,
    };
  }
  return {
    kind: "refuse",
    message:
      `neither user ${DEFAULT_USER} nor ${FALLBACK_USER} exists in /etc/passwd; create one or set ${setting}`,
  };
}

/** A passwd entry by name only (no numeric fallback: `dmonitor` must really exist). */
function namedEntry(passwd: string, name: string): { uid: number; gid: number } | null {
  const hit = passwd.split("\n").some((l) => l.startsWith(`${name}:`));
  return hit ? lookupPasswd(passwd, name) : null;
}

/** What the state directory's stat says about using it as `uid`/`gid` (no supplementary groups). */
export interface DirInfo {
  uid: number;
  gid: number;
  mode: number;
  /** The entries inside, with their owners; `file: false` for anything but a regular file. */
  entries: { name: string; uid: number; file?: boolean }[];
}

export type StateDirAction =
  | { kind: "ok" }
  /** Create it, or hand it and the files in it to the user (chown), mode 0750. */
  | { kind: "take"; files: string[] }
  | { kind: "refuse"; message: string };

/** The files StateStore keeps in the state directory (SQLite's database and journals). */
export function isStateFile(name: string): boolean {
  return /^state\.db(-wal|-shm|-journal)?$/.test(name);
}

/**
 * Decides what to do with `path` (the state directory) before switching to `user` (`uid`/`gid`).
 * Missing: created for the user. Holding nothing but dmonitor's database (or nothing at all) and
 * owned by root or the user: handed to the user with its files, since that is a directory made
 * for dmonitor (mktemp, an installer, a node or `dmonitor outbox` run as root before). Otherwise it
 * must be writable and searchable by the user, else refused with a message naming the path and
 * the fix: dmonitor does not chown a directory that holds anything else.
 */
export function stateDirAction(
  path: string,
  info: DirInfo | null,
  user: string,
  uid: number,
  gid: number,
): StateDirAction {
  if (info === null) return { kind: "take", files: [] };
  // Only a root-owned directory is handed over with its files: in one the user owns, the user could
  // have planted state.db as a link to a file of root's, which a chown would then give away.
  const ours = info.entries.every((e) =>
    isStateFile(e.name) && e.file !== false && (e.uid === 0 || e.uid === uid)
  );
  const usable = info.uid === uid && info.gid === gid && (info.mode & 0o700) === 0o700;
  const foreign = info.entries.find((e) => isStateFile(e.name) && e.uid !== uid);
  if (usable && !foreign) return { kind: "ok" };
  if (info.uid === 0 && ours) {
    return { kind: "take", files: info.entries.map((e) => e.name) };
  }
  const bits = info.uid === uid
    ? (info.mode >> 6) & 7
    : info.gid === gid
    ? (info.mode >> 3) & 7
    : info.mode & 7;
  const fix = `; dmonitor switches to that user after starting as root: chown -R ${user}: ${path}`;
  if ((bits & 3) === 3) {
    if (!foreign) return { kind: "ok" };
    return {
      kind: "refuse",
      message: `${path}/${foreign.name} is owned by uid ${foreign.uid}, not user ${user}${fix}`,
    };
  }
  return {
    kind: "refuse",
    message: `state_dir ${path} is not writable by user ${user} (owner uid ${info.uid}, mode ${
      (info.mode & 0o7777).toString(8).padStart(4, "0")
    })${fix}`,
  };
}
