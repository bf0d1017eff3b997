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

/**
 * Every thread of process `pid` (default: this one) with its credentials. Deno refuses to read its
 * own /proc/PID without --allow-all, so a shell lists them (run permission is granted anyway).
 */
export async function readThreads(pid: number = Deno.pid): Promise<Map<number, ThreadCreds>> {
  const out = await new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'for f in /proc/"$1"/task/*/status; do t=${f%/status}; echo "== ${t##*/}"; cat "$f"; done',
      "sh",
      String(pid),
    ],
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return parseThreads(new TextDecoder().decode(out.stdout));
}

/** Parses `== TID` headers each followed by that thread's status file (pure). */
export function parseThreads(text: string): Map<number, ThreadCreds> {
  const threads = new Map<number, ThreadCreds>();
  for (const part of text.split(/^== /m).slice(1)) {
    const nl = part.indexOf("\n");
    const tid = Number(part.slice(0, nl));
    const c = parseStatus(part.slice(nl + 1));
    if (Number.isInteger(tid) && c) threads.set(tid, c); // a thread that ended meanwhile: no file
  }
  return threads;
}
