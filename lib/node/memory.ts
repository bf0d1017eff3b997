/**
 * Giving memory back after a mass outage. V8 keeps the heap it grew during the burst, and glibc
 * keeps the native heap pages it freed (HTTP buffers, SQLite statements, TLS); neither shrinks on
 * its own while the node stays busy with its steady checks, so RSS would stay at its peak. Once
 * the engine has forgotten the states of a big outage, `releaseMemory` runs a full GC in two steps
 * and `malloc_trim(0)`, each where available (no `--expose-gc` trick or no glibc: skipped).
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { libc, loadFullGc } from "../runtime/mod.ts";

let trim: ((pad: number | bigint) => number) | null | undefined;

function mallocTrim(): ((pad: number | bigint) => number) | null {
  if (trim === undefined) {
    const f = libc()?.malloc_trim;
    trim = f ? (pad) => f(BigInt(pad)) : null;
  }
  return trim;
}

/** What one release did: RSS before and after (bytes), how long its steps held the thread in
 * all (`ms`), the longest of them (`longestMs`) and how many ran (`steps`). */
export interface Released {
  rssBefore: number;
  rssAfter: number;
  ms: number;
  longestMs: number;
  steps: number;
}

/** The pause between the steps of {@link releaseMemory}, in which the node serves what waits. */
export const STEP_GAP_MS = 100;

/**
 * Gives the memory back in three steps, each on a turn of its own, so that no single pause holds
 * the node (its `/healthz`, its peers' requests) as long as all three at once:
 * 1. a plain full GC: empties the heap of a big outage; V8 keeps the freed pages in its pool;
 * 2. a last-resort full GC of the small heap left: compacts it and empties the pool;
 * 3. `malloc_trim(0)`: returns glibc's free pages.
 * Measured on a heap of 270 MiB with 8 MiB live (a script of its own, release flags, 2 shared cores):
 * the last-resort GC at once held the thread 100-115 ms; in steps 18-55 ms, then 36-40 ms, then
 * 10-16 ms for the trim. `ms` does not count the first lookup of the GC function.
 */
export async function releaseMemory(gapMs = STEP_GAP_MS): Promise<Released> {
  const gc = await loadFullGc();
  const rssBefore = Deno.memoryUsage().rss;
  const steps: Array<() => void> = [];
  if (gc) steps.push(() => gc("regular"), () => gc("last-resort"));
  const trim = mallocTrim();
  if (trim) steps.push(() => trim(0));
  let ms = 0;
  let longestMs = 0;
  for (const [i, step] of steps.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
    const t0 = performance.now();
    step();
    const took = performance.now() - t0;
    ms += took;
    longestMs = Math.max(longestMs, took);
  }
  return { rssBefore, rssAfter: Deno.memoryUsage().rss, ms, longestMs, steps: steps.length };
}

/** glibc's mallopt parameters (malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** glibc's initial values of both thresholds, kept from then on (see {@link fixMallocThresholds}). */
const MALLOC_THRESHOLD_BYTES = 128 * 1024;

/**
 * Keeps glibc's mmap and trim thresholds at their initial 128 KiB instead of letting them grow.
 * By default glibc raises both whenever a block it had mmap'd is freed (the mmap threshold to
 * that block's size, up to 32 MiB, and the trim threshold to twice it), so after the big buffers
 * of a mass outage every allocation below that size comes from the arenas, and what they free
 * stays resident there. Measured on the 3-node, 3,000-check outage (`bench/consensus_mass.ts`):
 * two malloc arenas of V8's worker threads grew by 5-6 MiB each and stayed, and RSS after
 * recovery was +17% over before; with the thresholds fixed +5%. Any block of 128 KiB or more is
 * then mmap'd and unmapped on free (as before the first raise). Returns whether it was applied
 * (false without glibc or FFI).
 */
export function fixMallocThresholds(bytes = MALLOC_THRESHOLD_BYTES): boolean {
  const set = libc()?.mallopt;
  if (!set) return false;
  // mallopt returns 1 on success; setting either disables glibc's dynamic adjustment of both.
  return set(M_MMAP_THRESHOLD, bytes) === 1 && set(M_TRIM_THRESHOLD, bytes) === 1;
}

/** How long after start (or a reload) {@link releaseAfterStart} waits. */
export const SETTLE_MS = 3_000;

/**
 * Once start-up or a reload has settled: reading, parsing and compiling the tree leaves garbage in
 * V8's old space and, at times, 10-30 MiB of freed pages in glibc's main heap (V8's compiler
 * zones, the tree's file reads), and an idle node has no allocation pressure to return either:
 * one {@link releaseMemory}, on a timer of its own that does not keep the process alive.
 */
export function releaseAfterStart(
  what: "start" | "reload",
  logger: Logger,
  signal: AbortSignal,
  ms = SETTLE_MS,
): void {
  const t = setTimeout(async () => {
    signal.removeEventListener("abort", cancel);
    const r = await releaseMemory();
    logger.debug(`memory returned after ${what}`, {
      rss_mb: `${(r.rssBefore / 1048576).toFixed(0)}->${(r.rssAfter / 1048576).toFixed(0)}`,
      ms: Math.round(r.ms),
      longest_ms: Math.round(r.longestMs),
    });
  }, ms);
  Deno.unrefTimer(t);
  const cancel = () => clearTimeout(t);
  signal.addEventListener("abort", cancel, { once: true });
}

/** How often {@link keepTrimmed} returns glibc's free pages. */
export const TRIM_EVERY_MS = 15_000;

/**
 * malloc_trim(0) every `everyMs` until `signal` aborts. glibc gives back only the top of its
 * heap on its own; freed pages below a live allocation stay resident. At times a node's heap
 * grew by 10-30 MiB in a burst (compilation, a slow turn with many checks at once) and stayed
 * there with nothing live in it. A trim of a heap with nothing to give back takes well under a
 * millisecond; no GC is run here. Returns how many trims ran so far (for tests).
 */
export function keepTrimmed(
  logger: Logger,
  signal: AbortSignal,
  everyMs = TRIM_EVERY_MS,
): () => number {
  const trim = mallocTrim();
  let runs = 0;
  if (trim === null || signal.aborted) return () => runs;
  const t = setInterval(() => {
    const before = Deno.memoryUsage().rss;
    const t0 = performance.now();
    trim(0);
    runs++;
    const after = Deno.memoryUsage().rss;
    if (before - after >= 4 * 1048576) {
      logger.debug("memory returned (malloc_trim)", {
        rss_mb: `${(before / 1048576).toFixed(0)}->${(after / 1048576).toFixed(0)}`,
        ms: Math.round(performance.now() - t0),
      });
    }
  }, everyMs);
  Deno.unrefTimer(t);
  signal.addEventListener("abort", () => clearInterval(t), { once: true });
  return () => runs;
}
