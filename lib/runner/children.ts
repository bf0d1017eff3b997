/**
 * The direct children of this process, from every thread's `/proc/self/task/<tid>/children`
 * (Linux keeps children per thread: a plugin is the child of the thread that spawned it, and an
 * orphan re-parented to us, the subreaper, becomes the child of the thread that had spawned its
 * dead parent). The reaper reads them after runs end, and Deno's blocking pool has a couple of
 * dozen threads while plugins are spawned there: opening and reading every file on each sweep
 * was a tenth of the main thread's time at 1,800 runs a second.
 *
 * So each thread's files stay open between sweeps and are read again with pread(2) at offset 0
 * (a seq_file starts over). A file opened for a thread that has since exited reads as empty,
 * not as an error, so a thread whose number was reused by a new thread would hide the new one's
 * children: each thread's `comm` stays open too, and reading it fails (ESRCH) once its thread is
 * gone, which sends us back to the path for the new thread. Threads no longer listed have their
 * files closed. Without FFI, every file is read by path each time.
 * @module
 */
import { type Libc, libc, O } from "../runtime/libc.ts";

const O_RDONLY_CLOEXEC = O.O_RDONLY | O.O_CLOEXEC;

/**
 * Threads whose files are kept open (two descriptors each), so that a pool grown to hundreds of
 * threads cannot take the descriptors plugins need; the others are read by path.
 */
const MAX_KEPT = 64;

/** Open files of each thread seen, by tid. */
const files = new Map<string, { children: number; comm: number }>();
const buf = new Uint8Array(64 * 1024);
const encoder = new TextEncoder();

function forget(lib: Libc, tid: string): void {
  const f = files.get(tid);
  if (!f) return;
  lib.close(f.children);
  lib.close(f.comm);
  files.delete(tid);
}

function openThread(lib: Libc, tid: string): { children: number; comm: number } | null {
  const children = lib.open(
    encoder.encode(`/proc/self/task/${tid}/children\0`),
    O_RDONLY_CLOEXEC,
    0,
  );
  if (children < 0) return null;
  const comm = lib.open(encoder.encode(`/proc/self/task/${tid}/comm\0`), O_RDONLY_CLOEXEC, 0);
  if (comm < 0) {
    lib.close(children);
    return null;
  }
  const f = { children, comm };
  files.set(tid, f);
  return f;
}

/** Adds the pids in thread `tid`'s children file, read by path, to `out` (none if it is gone). */
function addByPath(tid: string, out: Set<number>): void {
  try {
    const text = Deno.readTextFileSync(`/proc/self/task/${tid}/children`);
    for (const p of text.split(" ")) if (/^\d+$/.test(p)) out.add(Number(p));
  } catch { /* thread gone */ }
}

/** Our direct children, over every thread. */
export function ownChildren(): number[] {
  const out = new Set<number>();
  let tids: string[];
  try {
    tids = [...Deno.readDirSync("/proc/self/task")].map((e) => e.name);
  } catch {
    return []; // no /proc
  }
  const lib = libc();
  if (lib === null) {
    for (const tid of tids) addByPath(tid, out);
    return [...out];
  }
  const listed = new Set(tids);
  for (const tid of files.keys()) if (!listed.has(tid)) forget(lib, tid);
  for (const tid of tids) {
    let f = files.get(tid);
    // The thread we opened is gone and its number belongs to a new one: open the new one's.
    if (f && Number(lib.pread(f.comm, buf, 1n, 0n)) < 0) {
      forget(lib, tid);
      f = undefined;
    }
    if (!f && files.size >= MAX_KEPT) {
      addByPath(tid, out);
      continue;
    }
    f ??= openThread(lib, tid) ?? undefined;
    if (!f) continue; // exited meanwhile: its children went to another thread, read below or next time
    const n = Number(lib.pread(f.children, buf, BigInt(buf.length), 0n));
    if (n < 0) continue;
    if (n === buf.length) {
      addByPath(tid, out); // more than the buffer holds
      continue;
    }
    let pid = 0;
    for (let i = 0; i < n; i++) {
      const c = buf[i]!;
      if (c >= 48 && c <= 57) pid = pid * 10 + (c - 48);
      else {
        if (pid > 0) out.add(pid);
        pid = 0;
      }
    }
    if (pid > 0) out.add(pid);
  }
  return [...out];
}
