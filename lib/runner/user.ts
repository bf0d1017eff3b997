/**
 * Resolves `plugin_user` to a uid and gid from /etc/passwd: a pure parser and a thin reader.
 * @module
 */
import { PluginError } from "../errors/mod.ts";
import type { RunAs } from "./safety.ts";

/**
 * Finds `name` in passwd-format text and returns its uid and primary gid, or null when absent.
 * A purely numeric name that has no entry is taken as a uid whose group is the same number, so
 * `plugin_user: 65534` works on systems without a passwd entry for it.
 *
 * @example
 * ```ts
 * lookupPasswd("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", "nobody");
 * // { uid: 65534, gid: 65534 }
 * ```
 */
export function lookupPasswd(text: string, name: string): RunAs | null {
  const numeric = /^\d+$/.test(name) ? Number(name) : null;
  let byUid: RunAs | null = null;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(":");
    if (fields.length < 4) continue;
    const uid = toId(fields[2]!);
    const gid = toId(fields[3]!);
    if (uid === null || gid === null) continue;
    if (fields[0] === name) return { uid, gid };
    if (numeric !== null && uid === numeric && byUid === null) byUid = { uid, gid };
  }
  if (byUid) return byUid;
  return numeric !== null && numeric <= 0xffffffff ? { uid: numeric, gid: numeric } : null;
}

function toId(field: string): number | null {
  if (!/^\d+$/.test(field)) return null;
  const n = Number(field);
  return n <= 0xffffffff ? n : null;
}

/** Reads the passwd file (default /etc/passwd) and resolves `name`; throws PluginError if absent. */
export async function resolveUser(name: string, passwdPath = "/etc/passwd"): Promise<RunAs> {
  let text: string;
  try {
    text = await Deno.readTextFile(passwdPath);
  } catch (err) {
    throw new PluginError("", `Cannot resolve plugin_user "${name}": cannot read ${passwdPath}`, {
      cause: err,
    });
  }
  const found = lookupPasswd(text, name);
  if (!found) {
    throw new PluginError(
      "",
      `Cannot resolve plugin_user "${name}": no such user in ${passwdPath}`,
    );
  }
  return found;
}
