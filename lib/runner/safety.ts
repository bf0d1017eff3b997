/**
 * Whether a plugin file may be run, as a pure decision over its metadata, plus the thin I/O that
 * gathers that metadata and explains a failed spawn.
 * @module
 */

/** The parts of `Deno.FileInfo` the safety check needs (a `Deno.FileInfo` fits). */
export interface PluginFileInfo {
  isFile: boolean;
  /** Permission bits (`st_mode`), null where the platform has none. */
  mode: number | null;
  uid: number | null;
  gid: number | null;
}

/** A user and primary group a plugin runs as. */
export interface RunAs {
  uid: number;
  gid: number;
}

/**
 * Returns why the plugin must not run, or null when it may. Refused: anything but a regular
 * file; an owner other than root or the node's own uid (someone else could swap it); write
 * permission for group or others (same reason); no execute bit for whoever will run it.
 *
 * `runAs` is the user the plugin will run as (null: the node's own user). Supplementary groups are
 * dropped when switching user, so only the owner and primary-group bits are considered for it.
 *
 * @example
 * ```ts
 * checkPluginSafety({ isFile: true, mode: 0o100775, uid: 0, gid: 0 }, 0);
 * // "writable by group (mode 0775); run chmod go-w on it"
 * ```
 */
export function checkPluginSafety(
  info: PluginFileInfo,
  nodeUid: number | null,
  runAs: RunAs | null = null,
): string | null {
  if (!info.isFile) return "not a regular file";
  if (info.mode === null || info.uid === null) return "cannot read its owner and permissions";
  const mode = info.mode & 0o7777;
  const octal = `mode ${mode.toString(8).padStart(4, "0")}`;
  if (info.uid !== 0 && info.uid !== nodeUid) {
    const who = nodeUid === null ? "root" : `root or dmonitor's own user (uid ${nodeUid})`;
    return `owned by uid ${info.uid}, not by ${who}`;
  }
  const writable = [mode & 0o020 ? "group" : "", mode & 0o002 ? "others" : ""].filter(Boolean);
  if (writable.length > 0) {
    return `writable by ${writable.join(" and ")} (${octal}); run chmod go-w on it`;
  }
  if (runAs) {
    const bit = info.uid === runAs.uid ? 0o100 : info.gid === runAs.gid ? 0o010 : 0o001;
    if ((mode & bit) === 0) return `not executable by uid ${runAs.uid} (${octal})`;
  } else if ((mode & 0o111) === 0) {
    return `not executable (${octal})`;
  }
  return null;
}

/** Stats the plugin and applies {@link checkPluginSafety}; returns the refusal reason or null. */
export async function inspectPlugin(
  path: string,
  nodeUid: number | null,
  runAs: RunAs | null,
): Promise<string | null> {
  if (!path.startsWith("/")) return "the path is not absolute";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "no such file";
    if (err instanceof Deno.errors.PermissionDenied) return "permission denied reading it";
    return `cannot stat it: ${(err as Error).message}`;
  }
  return checkPluginSafety(info, nodeUid, runAs);
}

/** Reads the interpreter named on a `#!` line, or null when there is none. */
export function parseShebang(head: Uint8Array | string): string | null {
  const text = typeof head === "string" ? head : new TextDecoder().decode(head);
  if (!text.startsWith("#!")) return null;
  const line = text.slice(2).split("\n", 1)[0]!.trim();
  return line.split(/[ \t]+/, 1)[0] || null;
}

/**
 * Explains why spawning a plugin that passed the safety check failed. The common case is a
 * script whose `#!` interpreter is missing: exec reports ENOENT for the script itself, which
 * would read as "no such file" although the file is right there.
 */
export async function describeSpawnError(
  path: string,
  err: unknown,
  runAs: RunAs | null,
): Promise<string> {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Deno.errors.NotFound) {
    const interpreter = await readShebang(path);
    if (interpreter !== null) {
      const exists = await Deno.stat(interpreter).then(() => true, () => false);
      return exists
        ? `its interpreter ${interpreter} could not be started: ${message}`
        : `its interpreter ${interpreter} (from the #! line) does not exist`;
    }
    return `exec failed: ${message}`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    const who = runAs ? ` as uid ${runAs.uid}` : "";
    return `permission denied executing it${who} (check the file, its interpreter and their directories)`;
  }
  return `cannot start it: ${message}`;
}

async function readShebang(path: string): Promise<string | null> {
  try {
    using file = await Deno.open(path);
    const buf = new Uint8Array(256);
    const n = await file.read(buf);
    return n === null ? null : parseShebang(buf.subarray(0, n));
  } catch {
    return null;
  }
}
