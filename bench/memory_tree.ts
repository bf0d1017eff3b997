/**
 * The configuration tree of the memory benchmarks (bench/memory_run.ts, bench/memory_breakdown.ts):
 * `pairs` hosts with a passing TCP check each, and the listeners they check.
 * @module
 */
import { join } from "node:path";
import { giveToServerUser } from "../lib/privilege/testing.ts";

/** Where the node listens (its HTTP port), beside the checked hosts. */
export const LISTEN = "127.0.180.1:29399";

/** Writes the tree into a temporary directory; disposing it closes the listeners and removes it. */
export async function memoryTree(pairs: number, interval: string, listen = LISTEN) {
  // One listener per host address (127.x.y.z, all loopback), so every check passes: the figure
  // is the steady state of a healthy node, not thousands of simultaneous incidents.
  const listeners: Deno.Listener[] = [];
  const hostOf = (i: number) => `127.${Math.floor(i / 250) + 100}.${(i % 250) + 1}.1`;
  let port = 0;
  for (let i = 0; i < pairs; i++) {
    const l = Deno.listen({ hostname: hostOf(i), port });
    port = (l.addr as Deno.NetAddr).port;
    listeners.push(l);
    (async () => {
      for await (const c of l) c.close();
    })().catch(() => {});
  }
  const tree = await Deno.makeTempDir({ prefix: "dmonitor-bench-mem-" });
  await Deno.writeTextFile(
    join(tree, "dmonitor.yaml"),
    `listen: ${listen}\nstate_dir: ${join(tree, "state")}\n` +
      `interval: ${interval}\ntimeout: 2s\nconcurrency: 32\n`,
  );
  for (let i = 0; i < pairs; i++) {
    const host = hostOf(i);
    await Deno.mkdir(join(tree, "hosts.d", host), { recursive: true });
    await Deno.writeTextFile(join(tree, "hosts.d", host, "tcp"), `port: ${port}\n`);
  }
  // Started as root the node drops to an unprivileged user, which must reach the tree.
  await giveToServerUser(tree);
  return {
    tree,
    async [Symbol.asyncDispose]() {
      for (const l of listeners) l.close();
      await Deno.remove(tree, { recursive: true });
    },
  };
}

/** Resident memory of process `pid` by kind, in bytes, from /proc/<pid>/smaps. */
export async function residentSplit(pid: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let kind = "";
  const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
  for (const line of (await Deno.readTextFile(`/proc/${pid}/smaps`)).split("\n")) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[1]!;
      kind = name === exe
        ? "runtime code and data (the deno binary)"
        : name === "[heap]"
        ? "malloc heap ([heap])"
        : name === ""
        ? "anonymous (V8 heap, malloc arenas, thread stacks)"
        : name.startsWith("/")
        ? "other files (libc, ...)"
        : name;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]) * 1024;
  }
  return out;
}
