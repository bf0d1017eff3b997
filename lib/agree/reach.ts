/**
 * Which tests too few nodes run to ever reach their quorum. Pure: what each node is known to run
 * (a peer not heard from yet may run anything, so it counts as running every test).
 * @module
 */
import { CLUSTER_KEY } from "./digest.ts";

/** What one node runs: its entry keys, or null when not known (never answered). */
export interface NodeTests {
  node: string;
  keys: ReadonlySet<string> | null;
}

/** A test that can never be confirmed, and why. */
export interface Unconfirmable {
  host: string;
  test: string;
  /** The nodes known to run it. */
  nodes: string[];
  /** Nodes whose tree is not known (counted as running it). */
  unknown: number;
  /** The quorum: how many nodes must see a failure. */
  needed: number;
  /** `127.0.0.1/ssh: configured on 1 node, quorum 2: it can never be confirmed`. */
  message: string;
}

/** Splits `host/test` at its last `/` (a host never holds one, nor a test). */
export function splitKey(key: string): { host: string; test: string } {
  const i = key.lastIndexOf("/");
  return { host: key.slice(0, i), test: key.slice(i + 1) };
}

/** Every test of any known node that fewer than `needed` nodes can run, sorted by host/test. */
export function unconfirmable(nodes: readonly NodeTests[], needed: number): Unconfirmable[] {
  const unknown = nodes.filter((n) => n.keys === null).length;
  const runners = new Map<string, string[]>();
  for (const n of nodes) {
    for (const k of n.keys ?? []) {
      if (k === CLUSTER_KEY) continue;
      const list = runners.get(k) ?? [];
      list.push(n.node);
      runners.set(k, list);
    }
  }
  const out: Unconfirmable[] = [];
  for (const key of [...runners.keys()].sort()) {
    const known = runners.get(key)!.sort();
    const most = known.length + unknown;
    if (most >= needed) continue;
    const count = `${unknown > 0 ? "at most " : ""}${most} node${most === 1 ? "" : "s"}`;
    out.push({
      ...splitKey(key),
      nodes: known,
      unknown,
      needed,
      message: `${key}: configured on ${count}, quorum ${needed}: it can never be confirmed`,
    });
  }
  return out;
}
