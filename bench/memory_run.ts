/**
 * Memory: resident memory of `dmonitor run` with 1,000 and 10,000 host+test pairs configured (a
 * TCP check each, every one passing), against a bare `deno run` of an empty script measured in
 * the same run with the same V8 flags. Steady is the median VmRSS over the last third of the run,
 * peak is VmHWM; each is printed as a ratio to the bare runtime's. CPU is the node's user + system
 * time: at start (reading the tree, compiling) and per check run once started, so that a V8
 * flag's CPU cost shows beside what it saves.
 * Goals (issue 14): steady RSS at 1,000 pairs at most 1.3x the bare runtime; under 100 MiB at
 * 10,000. bench/memory_breakdown.ts shows where the memory goes.
 *
 *   deno run -A bench/memory_run.ts [--pairs 1000,10000] [--seconds 45] [--interval 30s]
 *     [--v8-flags=release|none|--flag,...]   (default: packaging/v8-flags.txt, the release flags;
 *                                             passed to both the node and the baseline)
 *     [--main dist/dmonitor.js]              (another entry point: the bundle of `make bundle`)
 * @module
 */
import { parseArgs } from "node:util";
import { MAIN, ROOT } from "../tests/util.ts";
import { memoryTree } from "./memory_tree.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pairs: { type: "string", default: "1000,10000" },
    seconds: { type: "string", default: "45" },
    interval: { type: "string", default: "30s" },
    "v8-flags": { type: "string", default: "release" },
    /** Another entry point taking main.ts's arguments (dist/dmonitor.js, a diagnostic wrapper). */
    main: { type: "string", default: MAIN },
  },
});
const sizes = values.pairs.split(",").map(Number);
const seconds = Number(values.seconds);
const intervalS = Number(/^(\d+)s$/.exec(values.interval)?.[1] ?? NaN);
if (!(intervalS > 0)) {
  throw new Error(`--interval must be whole seconds ("10s"), got ${values.interval}`);
}

/** The release flags, joined as V8 wants them (as the Makefile and packaging/build.sh do). */
async function releaseFlags(): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}/packaging/v8-flags.txt`);
  return text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#")).join(",");
}
const flags = values["v8-flags"] === "release"
  ? await releaseFlags()
  : values["v8-flags"] === "none"
  ? ""
  : values["v8-flags"];
const v8 = flags ? [`--v8-flags=${flags}`] : [];

interface Memory {
  steady: number;
  peak: number;
  /** CPU seconds (user + system) until ready, and from ready to the end. */
  startCpu: number;
  runCpu: number;
  /** Seconds from ready to the end. */
  runSeconds: number;
}

const cpuOf = async (pid: number) => {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return (f[11]! + f[12]!) / 100;
};

/** Runs `args` for `ms` after `ready` was printed, sampling VmRSS each second. */
async function measure(args: string[], ms: number, ready?: RegExp): Promise<Memory> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let readyAt = ready ? 0 : performance.now();
  let log = "";
  const reader = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (ready && readyAt === 0 && ready.test(chunk)) readyAt = performance.now();
      log = (log + chunk).slice(-2000);
      if (Deno.env.get("DMONITOR_BENCH_VERBOSE")) {
        await Deno.stderr.write(new TextEncoder().encode(chunk));
      }
    }
  })();
  let exited = false;
  child.status.then(() => exited = true);
  const samples: number[] = [];
  const t0 = performance.now();
  let status = "";
  let startCpu = -1;
  while (readyAt === 0 || performance.now() - readyAt < ms) {
    await new Promise((r) => setTimeout(r, 1000));
    if (exited) throw new Error(`${args.join(" ")} exited early:\n${log}`);
    if (readyAt === 0 && performance.now() - t0 > 600_000) {
      throw new Error(`process never became ready (${ready}):\n${log}`);
    }
    status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    if (readyAt !== 0) {
      if (startCpu < 0) startCpu = await cpuOf(child.pid);
      samples.push(kb(status, "VmRSS"));
    }
  }
  const endCpu = await cpuOf(child.pid);
  const runSeconds = (performance.now() - readyAt) / 1000;
  child.kill("SIGKILL");
  await child.status;
  await reader.catch(() => {});
  const last = samples.slice(-Math.max(1, Math.floor(samples.length / 3))).sort((a, b) => a - b);
  return {
    steady: last[Math.floor(last.length / 2)]!,
    peak: kb(status, "VmHWM"),
    startCpu,
    runCpu: endCpu - startCpu,
    runSeconds,
  };
}

const kb = (status: string, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;

/** A free port on the bench's address (a node left over from another run keeps its own). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.180.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const mib = (b: number) => (b / 1048576).toFixed(1);
const empty = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(empty, "await new Promise((r) => setTimeout(r, 600_000));\n");
const ms = seconds * 1000;
// The bare runtime's RSS varies by a few MiB from one start to the next: the median of three.
const bares: Memory[] = [];
for (let i = 0; i < 3; i++) bares.push(await measure(["run", "-A", "--quiet", ...v8, empty], 5000));
const base = bares.sort((a, b) => a.steady - b.steady)[1]!;
await Deno.remove(empty);
const entry = values.main === MAIN ? "main.ts" : values.main;
console.log(
  `memory: V8 flags: ${flags || "(none)"}; entry ${entry}; load average ` +
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
);
console.log(
  `memory: bare deno run: steady ${mib(base.steady)} MiB, peak ${mib(base.peak)} MiB ` +
    `(median of ${bares.map((b) => mib(b.steady)).join(", ")})`,
);
const got: [number, Memory][] = [];
for (const pairs of sizes) {
  await using t = await memoryTree(pairs, values.interval, `127.0.180.1:${freePort()}`);
  const m = await measure(
    ["run", "-A", "--quiet", ...v8, values.main, "run", "--config", t.tree],
    ms,
    /node started/,
  );
  got.push([pairs, m]);
  // Each check runs once an interval, spread over it.
  const runs = pairs * m.runSeconds / intervalS;
  console.log(
    `memory: ${pairs} checks every ${values.interval}, ${seconds}s: ` +
      `steady ${mib(m.steady)} MiB (${(m.steady / base.steady).toFixed(2)}x bare), ` +
      `peak ${mib(m.peak)} MiB (${(m.peak / base.peak).toFixed(2)}x); ` +
      `CPU at start ${m.startCpu.toFixed(1)} s, then ${(m.runCpu / runs * 1e6).toFixed(0)} µs ` +
      `per check run (${(m.runCpu / m.runSeconds * 100).toFixed(1)}% of a core)`,
  );
}
if (got.length >= 2) {
  const [[n0, a], [n1, b]] = [got[0]!, got.at(-1)!];
  console.log(
    `memory: per configured check ${((b.steady - a.steady) / (n1 - n0) / 1024).toFixed(1)} KiB ` +
      `steady, ${((b.peak - a.peak) / (n1 - n0) / 1024).toFixed(1)} KiB peak`,
  );
}
console.log("memory: goals: 1,000 checks <= 1.30x bare (steady); 10,000 checks < 100 MiB");
