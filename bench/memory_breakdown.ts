/**
 * Where `dmonitor run`'s memory goes (issue 14), beside bench/memory_run.ts's totals: runs the node
 * (and a bare `deno run` of an empty script) under the V8 inspector and prints
 * - resident memory by mapping: the deno binary, the malloc heap, anonymous (V8 heap, arenas);
 * - the V8 heap after a full GC (used, committed, off-heap backing stores);
 * - the scripts V8 compiled: ours by folder, npm packages, the runtime's own (`ext:`, `node:`);
 * - with --snapshot, the live heap by kind (code, strings, objects by constructor).
 * The inspector itself costs a few MiB in both processes; compare the two, not the totals to
 * memory_run.ts.
 *
 *   deno run -A bench/memory_breakdown.ts [--pairs 1000] [--seconds 30] [--interval 30s]
 *     [--v8-flags=...] [--snapshot] [--top 25] [--main dist/dmonitor.js]
 * @module
 */
import { parseArgs } from "node:util";
import { MAIN } from "../tests/util.ts";
import { memoryTree, residentSplit } from "./memory_tree.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pairs: { type: "string", default: "1000" },
    seconds: { type: "string", default: "30" },
    interval: { type: "string", default: "30s" },
    "v8-flags": { type: "string", default: "" },
    snapshot: { type: "boolean", default: false },
    top: { type: "string", default: "25" },
    /** Another entry point taking main.ts's arguments (dist/dmonitor.js from `make bundle`). */
    main: { type: "string", default: MAIN },
  },
});
const v8 = values["v8-flags"] ? [`--v8-flags=${values["v8-flags"]}`] : [];
const INSPECT = "127.0.180.2:29398";
const LISTEN_AT = "127.0.180.3:29397";
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** A minimal Chrome DevTools Protocol session over the inspector's WebSocket. */
async function inspector(): Promise<{
  send(method: string, params?: unknown): Promise<Record<string, unknown>>;
  on(method: string, f: (params: Record<string, unknown>) => void): void;
  close(): void;
}> {
  let list: { webSocketDebuggerUrl: string }[] = [];
  for (let i = 0; i < 100 && list.length === 0; i++) {
    list = await fetch(`http://${INSPECT}/json/list`).then((r) => r.json()).catch(() => []);
    if (list.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  await new Promise((r, j) => (ws.onopen = r, ws.onerror = j));
  let id = 0;
  const waiting = new Map<number, (r: Record<string, unknown>) => void>();
  const handlers = new Map<string, (p: Record<string, unknown>) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? m.error);
    else handlers.get(m.method)?.(m.params);
  };
  return {
    send: (method, params) =>
      new Promise((r) => {
        waiting.set(++id, r);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    on: (method, f) => handlers.set(method, f),
    close: () => ws.close(),
  };
}

/** Groups a script URL: our folder, an npm package, or the runtime's own. */
function group(url: string): string {
  const npm = /\/npm\/[^/]+\/((?:@[^/]+\/)?[^/]+)\//.exec(url) ??
    /node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) return `npm:${npm[1]}`;
  const ours = /\/(lib\/[^/]+)\//.exec(url);
  if (ours && url.startsWith("file:")) return ours[1]!;
  if (url.startsWith("file:")) return "other files (main.ts, ...)";
  const ext = /^ext:([^/]+)/.exec(url);
  if (ext) return `ext:${ext[1]}`;
  return url === "" ? "(eval / no url)" : url.split(":")[0]!;
}

/** The live heap by kind from a snapshot: code, strings, objects by constructor name. */
function heapByKind(snap: {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}): [string, number, number][] {
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [T, N, S, W] = ["type", "name", "self_size", "id"].map((k) => f.indexOf(k));
  void W;
  const agg = new Map<string, [number, number]>();
  for (let i = 0; i < snap.nodes.length; i += f.length) {
    const type = types[snap.nodes[i + T!]!]!;
    const name = snap.strings[snap.nodes[i + N!]!]!;
    const key = type === "object" || type === "native"
      ? `${type} ${name.slice(0, 40)}`
      : type === "closure"
      ? "closures"
      : type === "code"
      ? `code ${name.startsWith("(") ? name.split(" ")[0] : "(other)"}`
      : type;
    const a = agg.get(key) ?? [0, 0];
    a[0] += snap.nodes[i + S!]!;
    a[1]++;
    agg.set(key, a);
  }
  return [...agg].map(([k, [s, n]]) => [k, s, n] as [string, number, number])
    .sort((a, b) => b[1] - a[1]);
}

async function breakdown(label: string, args: string[], ready?: RegExp) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `--inspect=${INSPECT}`, ...v8, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let sawReady = !ready;
  const reader = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (ready?.test(chunk)) sawReady = true;
    }
  })();
  const cdp = await inspector();
  const scripts = new Map<string, [number, number]>();
  cdp.on("Debugger.scriptParsed", (p) => {
    const g = group(String(p.url));
    const a = scripts.get(g) ?? [0, 0];
    a[0]++;
    a[1] += Number(p.length ?? 0);
    scripts.set(g, a);
  });
  const t0 = performance.now();
  while (!sawReady || performance.now() - t0 < Number(values.seconds) * 1000) {
    await new Promise((r) => setTimeout(r, 500));
  }
  const rss = await residentSplit(child.pid);
  await cdp.send("Debugger.enable");
  await cdp.send("HeapProfiler.enable");
  await cdp.send("HeapProfiler.collectGarbage");
  const heap = await cdp.send("Runtime.getHeapUsage");
  const after = await residentSplit(child.pid);
  console.log(`\n== ${label}`);
  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  console.log(`resident ${mib(total(rss))} (after a full GC ${mib(total(after))}):`);
  for (const [k, v] of Object.entries(rss).sort((a, b) => b[1] - a[1])) {
    if (v > 512 * 1024) console.log(`  ${mib(v).padStart(10)}  ${k}`);
  }
  console.log(
    `V8 heap after a full GC: used ${mib(Number(heap.usedSize))}, committed ` +
      `${mib(Number(heap.totalSize))}, backing stores ${mib(Number(heap.backingStorageSize ?? 0))}`,
  );
  // scriptParsed events arrive for every script already compiled once the debugger is enabled.
  await new Promise((r) => setTimeout(r, 500));
  console.log("scripts compiled (count, source size):");
  for (const [g, [n, len]] of [...scripts].sort((a, b) => b[1][1] - a[1][1])) {
    console.log(`  ${String(n).padStart(4)} ${(len / 1024).toFixed(0).padStart(6)} KiB  ${g}`);
  }
  if (values.snapshot) {
    const chunks: string[] = [];
    cdp.on("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push(String(p.chunk)));
    await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    const rows = heapByKind(JSON.parse(chunks.join("")));
    console.log("live heap by kind (self size, count):");
    for (const [k, s, n] of rows.slice(0, Number(values.top))) {
      console.log(`  ${mib(s).padStart(10)} ${String(n).padStart(8)}  ${k}`);
    }
  }
  cdp.close();
  child.kill("SIGKILL");
  await child.status;
  await reader.catch(() => {});
}

const empty = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(empty, "await new Promise((r) => setTimeout(r, 600_000));\n");
await breakdown("bare deno run", [empty]);
await Deno.remove(empty);
const pairs = Number(values.pairs);
await using t = await memoryTree(pairs, values.interval, LISTEN_AT);
await breakdown(`dmonitor run, ${pairs} checks every ${values.interval}`, [
  values.main,
  "run",
  "--config",
  t.tree,
], /node started/);
console.log(`\nload average: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
