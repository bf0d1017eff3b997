/**
 * Giving memory back after a mass outage. V8 keeps the heap it grew during the burst, and glibc
 * keeps the native heap pages it freed (HTTP buffers, SQLite statements, TLS); neither shrinks on
 * its own while the node stays busy with its steady checks, so RSS would stay at its peak. Once
 * the engine has forgotten the states of a big outage, `releaseMemory` runs one full GC and
 * `malloc_trim(0)`, each where available (no `--expose-gc` trick or no glibc: skipped).
 * @module
 */
import { fullGc, libc } from "../runtime/mod.ts";

let trim: ((pad: number | bigint) => number) | null | undefined;

function mallocTrim(): ((pad: number | bigint) => number) | null {
  if (trim === undefined) {
    const f = libc()?.malloc_trim;
    trim = f ? (pad) => f(BigInt(pad)) : null;
  }
  return trim;
}

/** What one release did: RSS before and after (bytes), and how long it held the thread. */
export interface Released {
  rssBefore: number;
  rssAfter: number;
  ms: number;
}

/** One full GC, then returns glibc's free pages to the system. */
export function releaseMemory(): Released {
  const rssBefore = Deno.memoryUsage().rss;
  const t0 = performance.now();
  fullGc()?.();
  mallocTrim()?.(0);
  return { rssBefore, rssAfter: Deno.memoryUsage().rss, ms: performance.now() - t0 };
}
