/**
 * A full garbage collection on demand, which Deno does not expose: `--expose-gc` set at run time
 * and V8's `gc` taken from a fresh context. Best effort: where that is not possible (an embedding
 * without node:vm), null, and callers go without.
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | null | undefined;

/** The function that runs a full GC, or null where there is none; looked up once. */
export function fullGc(): (() => void) | null {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      collect = vm.runInNewContext("gc") as () => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}
