/**
 * Heap snapshots of a running node through the V8 inspector (a diagnosis aid for the benches:
 * `consensus_mass.ts` with DMC_BENCH_HEAP=DIR), and, run as a script, the difference between two
 * of them by constructor:
 *
 *   deno run -A bench/heap_snapshot.ts BEFORE.heapsnapshot AFTER.heapsnapshot [TOP]
 *
 * prints the TOP (default 25) (type, name) groups whose retained-by-nobody-else self size grew
 * most, with their counts, so "what does the node keep after an outage" has an answer by name.
 * @module
 */

/** Takes a heap snapshot of the process whose inspector listens on `inspector` (host:port) and
 * writes it to `file`. */
export async function takeHeapSnapshot(inspector: string, file: string): Promise<void> {
  const list = await (await fetch(`http://${inspector}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => (ws.onopen = resolve, ws.onerror = reject));
  const out = await Deno.open(file, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let pending = Promise.resolve();
  try {
    await new Promise<void>((resolve, reject) => {
      ws.onerror = reject;
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.method === "HeapProfiler.addHeapSnapshotChunk") {
          const chunk = enc.encode(m.params.chunk);
          pending = pending.then(async () => {
            for (let off = 0; off < chunk.length;) off += await out.write(chunk.subarray(off));
          });
        } else if (m.id === 2) resolve();
      };
      ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.enable" }));
      ws.send(JSON.stringify({ id: 2, method: "HeapProfiler.takeHeapSnapshot", params: {} }));
    });
    await pending;
  } finally {
    out.close();
    ws.close();
  }
}

interface Group {
  count: number;
  bytes: number;
}

/** Self sizes of a snapshot's nodes grouped by type and name (strings by type alone). */
export function groups(snapshot: string): Map<string, Group> {
  const s = JSON.parse(snapshot) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [ti, ni, si] = [f.indexOf("type"), f.indexOf("name"), f.indexOf("self_size")];
  const out = new Map<string, Group>();
  for (let i = 0; i < s.nodes.length; i += f.length) {
    const type = types[s.nodes[i + ti]!]!;
    const name = type === "string" || type === "concatenated string" || type === "sliced string"
      ? ""
      : s.strings[s.nodes[i + ni]!]!.slice(0, 60);
    const key = `${type}:${name}`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += s.nodes[i + si]!;
    out.set(key, g);
  }
  return out;
}

if (import.meta.main) {
  const [a, b, top] = Deno.args;
  if (!a || !b) {
    console.error("usage: heap_snapshot.ts BEFORE AFTER [TOP]");
    Deno.exit(64);
  }
  const [ga, gb] = [groups(Deno.readTextFileSync(a)), groups(Deno.readTextFileSync(b))];
  const total = (g: Map<string, Group>) => [...g.values()].reduce((x, y) => x + y.bytes, 0);
  console.log(
    `total ${(total(ga) / 1048576).toFixed(1)} -> ${(total(gb) / 1048576).toFixed(1)} MiB`,
  );
  const rows = [...new Set([...ga.keys(), ...gb.keys()])].map((k) => {
    const [x, y] = [ga.get(k) ?? { count: 0, bytes: 0 }, gb.get(k) ?? { count: 0, bytes: 0 }];
    return { k, x, y, d: y.bytes - x.bytes };
  }).sort((p, q) => q.d - p.d).slice(0, Number(top ?? 25));
  for (const r of rows) {
    console.log(
      `${(r.d / 1024).toFixed(0).padStart(8)} KiB  ${String(r.x.count).padStart(7)} -> ${
        String(r.y.count).padEnd(7)
      } ${r.k}`,
    );
  }
}
