/**
 * A process's `/proc/<pid>/stat`, the fields dmonitor reads: the reaper's tests for strays
 * (lib/runner/reaper.ts), the outbox's lease holders (lib/alerts/outbox.ts) and the runner's
 * test support. The command name (field 2) is in parentheses and may hold spaces or parentheses
 * itself, so the fields are counted from the last ")".
 * @module
 */

/** Fields of /proc/<pid>/stat (proc(5)): state (3), ppid (4), session (6), starttime (22, clock
 * ticks after boot: with the pid it names one process, where a pid alone is reused). */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  sid: number;
  start: number;
}

/** `pid`'s stat fields, or null when no such process can be read (gone, or no /proc). */
export function procStat(pid: number | "self"): ProcStat | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime priority nice num_threads itrealvalue starttime ...
  return {
    pid: Number(text.slice(0, text.indexOf(" "))),
    state: f[0]!,
    ppid: Number(f[1]),
    sid: Number(f[3]),
    start: Number(f[19]),
  };
}
