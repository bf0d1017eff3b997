/**
 * Ending what a plugin or a command channel left behind after leaving its process group.
 *
 * Killing the process group misses a child that called setsid(2) (it leads a new session and
 * group). dmonitor therefore makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER, via FFI
 * to libc: the one reason for `--allow-ffi`): a process whose parent dies is then re-parented to
 * dmonitor instead of to init, where {@link sweepOrphans} finds and ends it after each run.
 *
 * A cgroup v2 child group per run would attribute every descendant exactly (cgroup.kill), but
 * Deno cannot spawn straight into a cgroup (no CLONE_INTO_CGROUP), so a plugin could fork before
 * being moved; and under systemd it needs `Delegate=yes` plus a writable cgroup tree, which
 * ProtectControlGroups=yes forbids. The subreaper needs nothing from the unit.
 *
 * Which of dmonitor's children are strays: a child listed in /proc/self/task/<tid>/children
 *  - that the runner or the command channel is not running right now ({@link trackChild}), and
 *  - that is not in dmonitor's own session (every plugin and command runs in a new one, which no
 *    descendant can leave for dmonitor's), and
 *  - either does not lead its session (Deno only ever starts session leaders or members of
 *    dmonitor's session, so such a child was re-parented), or leads one and carries a plugin's
 *    environment (`DMONITOR_HOST`): the built-in ping check's detached `ping` has neither.
 * A stray of a run still in progress is ended by whichever run ends first: it has escaped
 * already, and nothing may outlive its run. Orphans that clear their environment and lead their
 * own session are not told apart from Deno's own children; they are left alone (documented).
 * @module
 */
import { libc as sharedLibc } from "../runtime/libc.ts";
import { type ProcStat, procStat } from "../runtime/proc.ts";

import { ownChildren } from "./children.ts";

/** Live plugin and command pids (a count per pid: pids are reused). */
const tracked = new Map<number, number>();

/** Marks `pid` as a child the runner is waiting for: a sweep never touches it. */
export function trackChild(pid: number): void {
  tracked.set(pid, (tracked.get(pid) ?? 0) + 1);
}

/** Undoes {@link trackChild} once the child has been reaped. */
export function untrackChild(pid: number): void {
  const n = (tracked.get(pid) ?? 1) - 1;
  if (n <= 0) tracked.delete(pid);
  else tracked.set(pid, n);
}

/**
 * Spawns issued but not yet tracked: a spawn on Deno's blocking pool (spawn.ts) creates the child
 * on another thread before its caller can call {@link trackChild}, so a sweep in that window
 * would take the new plugin for a stray. Sweeps wait until none is in flight.
 */
let inFlight = 0;
let drained: (() => void)[] = [];

/**
 * Marks a spawn as started; call the returned function once its pid is tracked (or the spawn
 * failed). Sweeps wait for every started spawn to end first.
 */
export function beginSpawn(): () => void {
  inFlight++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    if (--inFlight === 0) {
      const waiting = drained;
      drained = [];
      for (const w of waiting) w();
    }
  };
}

/**
 * Resolves true once no spawn is in flight, false after `ms`. Checked again by the caller in
 * the same synchronous run as its look at /proc: a spawn can only be issued from this thread.
 */
async function noSpawnInFlight(ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (inFlight > 0) {
    const left = until - performance.now();
    if (left <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      drained.push(resolve);
      timer = setTimeout(resolve, left);
    });
    clearTimeout(timer);
  }
  return true;
}

type Libc = {
  prctl(option: number, a: number, b: number, c: number, d: number): number;
  waitpid(pid: number, status: null, options: number): number;
};
let libc: Libc | null | undefined;
let subreaper = false;

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

function openLibc(): Libc | null {
  // The process's one libc handle (null without --allow-ffi or a libc: go without the subreaper).
  if (libc === undefined) libc = sharedLibc() as unknown as Libc | null;
  return libc;
}

/**
 * Makes this process a child subreaper, once; false when it cannot (no --allow-ffi, no libc).
 * Without it, processes that left their group and were orphaned go to init and survive.
 */
export function becomeSubreaper(): boolean {
  if (subreaper) return true;
  const c = openLibc();
  if (c === null) return false;
  subreaper = c.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0;
  return subreaper;
}

/** Whether {@link becomeSubreaper} succeeded. */
export function isSubreaper(): boolean {
  return subreaper;
}

function hasPluginEnv(pid: number): boolean {
  try {
    const env = Deno.readTextFileSync(`/proc/${pid}/environ`);
    return env.startsWith("DMONITOR_HOST=") || env.includes("\0DMONITOR_HOST=");
  } catch {
    return false;
  }
}

/**
 * Zombie session leaders by pid: their start time and when first seen. One still there (same
 * start time) after {@link LINGER_MS} is an orphan: Deno reaps its own children within
 * milliseconds of their exit, and reaping one of those would steal its exit status.
 */
const lingering = new Map<number, { start: number; seen: number }>();
const LINGER_MS = 5_000;

function strays(self: ProcStat): { kill: number[]; reap: number[] } {
  const kill: number[] = [];
  const reap: number[] = [];
  const now = performance.now();
  const current = ownChildren();
  // Forget pids that are gone (reaped by Deno after all), so the map stays bounded.
  for (const pid of lingering.keys()) if (!current.includes(pid)) lingering.delete(pid);
  for (const pid of current) {
    if (tracked.has(pid)) continue;
    const p = procStat(pid);
    if (!p || p.ppid !== self.pid || p.sid === self.sid) continue;
    const leader = p.sid === p.pid;
    if (p.state === "Z" || p.state === "X") {
      const seen = lingering.get(pid);
      if (!leader) reap.push(pid);
      else if (seen?.start !== p.start) lingering.set(pid, { start: p.start, seen: now });
      else if (now - seen.seen >= LINGER_MS) {
        lingering.delete(pid);
        reap.push(pid);
      }
      continue;
    }
    if (!leader || hasPluginEnv(pid)) kill.push(pid);
  }
  return { kill, reap };
}

/** The sweep callers join: not yet looking at /proc (see {@link sweepOrphans}). */
let pending: Promise<number> | null = null;
/** The last sweep started; the next one waits for it. */
let last: Promise<unknown> = Promise.resolve();

/**
 * Ends every stray child (see the module doc) and whatever it forked, and reaps them; resolves
 * to how many were ended. A no-op without the subreaper.
 *
 * Callers share sweeps: a call joins the sweep that has not yet taken its first look at /proc,
 * which therefore sees what the caller's run left; else it starts one that begins after the
 * sweep under way has finished and after the next macrotask. So at most one sweep looks at a
 * time and one waits, and the runs that end meanwhile (a batch of events, or all the runs that
 * end while a sweep waits for spawns in flight) pay for one look instead of one each.
 */
export function sweepOrphans(): Promise<number> {
  if (!subreaper) return Promise.resolve(0);
  if (pending) return pending;
  const p: Promise<number> = new Promise<number>((resolve, reject) => {
    const start = () =>
      setTimeout(() => {
        const looking = () => {
          if (pending === p) pending = null;
        };
        sweep(looking).finally(looking).then(resolve, reject);
      }, 0);
    last.then(start, start);
  });
  pending = p;
  last = p;
  return p;
}

/** `looking` is called just before the first look at /proc (from then on, callers must not join). */
async function sweep(looking: () => void): Promise<number> {
  const self = procStat("self");
  if (!self) return 0;
  let ended = 0;
  // Each round kills the strays found; what they had forked is re-parented to us when they die
  // and found by the next round. The bound stops a fork bomb from holding the runner.
  for (let round = 0; round < 100; round++) {
    // A sweep skipped under a steady stream of spawns is made up by the next run's.
    if (!(await noSpawnInFlight(200))) break;
    looking();
    const { kill, reap } = strays(self);
    for (const pid of reap) libc!.waitpid(pid, null, WNOHANG);
    if (kill.length === 0) break;
    for (const pid of kill) {
      try {
        Deno.kill(pid, "SIGKILL");
        ended++;
      } catch { /* gone already */ }
    }
    // Reap them, so that neither zombies pile up nor their children stay attached to them.
    const until = performance.now() + 1000;
    let left = kill;
    while (left.length > 0 && performance.now() < until) {
      left = left.filter((pid) => libc!.waitpid(pid, null, WNOHANG) === 0);
      if (left.length > 0) await new Promise((r) => setTimeout(r, 2));
    }
  }
  return ended;
}
