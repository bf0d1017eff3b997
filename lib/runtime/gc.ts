/**
 * A full garbage collection on demand, which Deno does not expose. With `--expose-gc` among the V8
 * flags (the release flags, packaging/v8-flags.txt) it is V8's own `globalThis.gc`; without,
 * {@link loadFullGc} sets `--expose-gc` at run time and takes `gc` from a fresh node:vm context.
 * node:v8 and node:vm are imported only then: with the Node compatibility code they bring they
 * cost ~2 MiB resident on every node (issue 14). Best effort: where neither is possible (an
 * embedding without node:vm), null, and callers go without.
 *
 * By default it is called as `gc({ type: "major", flavor: "last-resort" })`: V8's plain `gc()`
 * empties the heap but keeps the pages in V8's page pool (RSS stayed at 295 MiB after freeing a
 * 290 MiB heap, and after a 3,000-check outage at 199 -> 196 MiB), while the last-resort flavour
 * (mark-compacts that reduce memory, and the pool emptied) also gives them back (295 -> 50 MiB;
 * lib/runtime/gc_test.ts checks it in a process with the release flags). The "regular" flavour
 * is there for a release in steps (lib/node/memory.ts): one plain mark-compact of a big heap,
 * then the last-resort one of the small heap left, each a shorter pause than the two at once.
 * @module
 */

type V8Gc = (options?: { type?: "major" | "minor"; flavor?: "regular" | "last-resort" }) => void;

/** A full GC: "last-resort" (the default) also returns the freed pages to the system. */
export type FullGc = (flavor?: "regular" | "last-resort") => void;

let collect: FullGc | null | undefined;

const full = (gc: V8Gc): FullGc => (flavor = "last-resort") => gc({ type: "major", flavor });

function exposed(): FullGc | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? full(gc as V8Gc) : undefined;
}

/**
 * The function that runs a full GC: V8's `gc` when exposed, else the one {@link loadFullGc}
 * found; null when there is none (or it was not loaded yet).
 */
export function fullGc(): FullGc | null {
  collect ??= exposed();
  return collect ?? null;
}

/** {@link fullGc}, taken from node:vm first when V8's `gc` is not exposed; looked up once. */
export async function loadFullGc(): Promise<FullGc | null> {
  if (collect !== undefined || fullGc() !== null) return collect ?? null;
  try {
    const [{ default: v8 }, { default: vm }] = await Promise.all([
      import("node:v8"),
      import("node:vm"),
    ]);
    v8.setFlagsFromString("--expose-gc");
    collect = full(vm.runInNewContext("gc") as V8Gc);
  } catch {
    collect = null;
  }
  return collect;
}
