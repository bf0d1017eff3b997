/**
 * Reading back the credentials of every thread from /proc: a pure parser of
 * `/proc/PID/task/TID/status` and the reader.
 * @module
 */

export interface ThreadCreds {
  /** Real, effective, saved and filesystem uid. */
  uid: number[];
  gid: number[];
  groups: number[];
  /** CapEff as a hex string, e.g. "0000000000000000". */
  capEff: string;
}

/** Parses the Uid, Gid, Groups and CapEff lines of a status file. Null when one is missing. */
export function parseStatus(text: string): ThreadCreds | null {
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(text)?.[1];
  const ids = (v: string | undefined) => v?.trim().split(/\s+/).filter(Boolean).map(Number);
  const uid = ids(field("Uid"));
  const gid = ids(field("Gid"));
  const groups = ids(field("Groups"));
  const capEff = field("CapEff")?.trim();
  if (!uid || !gid || !groups || capEff === undefined) return null;
  return { uid, gid, groups, capEff };
}

/** Why these credentials are still privileged, or null when they are not. */
export function privilegedBy(c: ThreadCreds): string | null {
  if (c.uid.some((u) => u === 0)) return `uid ${c.uid.join("/")}`;
  if (c.gid.some((g) => g === 0)) return `gid ${c.gid.join("/")}`;
  if (c.groups.includes(0)) return `groups ${c.groups.join(",")}`;
  if (!/^0+$/.test(c.capEff)) return `capabilities ${c.capEff}`;
  return null;
}

/** Every thread of process `pid` (default: this one) with its credentials. */
export async function readThreads(
  pid: number | "self" = "self",
): Promise<Map<number, ThreadCreds>> {
  const out = new Map<number, ThreadCreds>();
  for await (const e of Deno.readDir(`/proc/${pid}/task`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${e.name}/status`).catch(() => null);
    const c = text === null ? null : parseStatus(text);
    if (c) out.set(Number(e.name), c); // a thread that ended meanwhile has no file to read
  }
  return out;
}
