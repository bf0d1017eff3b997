/**
 * A full garbage collection on demand, which Deno does not expose. With `--expose-gc` among the V8
 * flags (the release flags, packaging/v8-flags.txt) it is V8's own `globalThis.gc`; without,
 * {@link loadFullGc} sets `--expose-gc` at run time and takes `gc` from a fresh node:vm context.
 * node:v8 and node:vm are imported only then: with the Node compatibility code they bring they
 * cost ~2 MiB resident on every node (issue 14). Best effort: where neither is possible (an
 * embedding without node:vm), null, and callers go without.
 * @module
 */

let collect: (() => void) | null | undefined;

function exposed(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? gc as () => void : undefined;
}

/**
 * The function that runs a full GC: V8's `gc` when exposed, else the one {@link loadFullGc}
 * found; null when there is none (or it was not loaded yet).
 */
export function fullGc(): (() => void) | null {
  collect ??= exposed();
  return collect ?? null;
}

/** {@link fullGc}, taken from node:vm first when V8's `gc` is not exposed; looked up once. */
export async function loadFullGc(): Promise<(() => void) | null> {
  if (collect !== undefined || fullGc() !== null) return collect ?? null;
  try {
    const [{ default: v8 }, { default: vm }] = await Promise.all([
      import("node:v8"),
      import("node:vm"),
    ]);
    v8.setFlagsFromString("--expose-gc");
    collect = vm.runInNewContext("gc") as () => void;
  } catch {
    collect = null;
  }
  return collect;
}
