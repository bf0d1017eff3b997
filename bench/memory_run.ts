/**
 * Memory: resident memory of `dmonitor run` with 1,000 and 10,000 host+test pairs configured (a
 * TCP check each, every one passing), against a bare `deno run` of an empty script measured in
 * the same run. Steady is the median VmRSS over the last third of the run, peak is VmHWM.
 * Goals (issue 14): steady RSS at 1,000 pairs at most 1.3x the bare runtime; under 100 MiB at
 * 10,000. Also prints the memory per configured check between the two sizes.
 *
 *   deno run -A bench/memory_run.ts [--pairs 1000,10000] [--seconds 45] [--interval 30s]
 *     [--v8-flags=--max-semi-space-size=1,...]   (passed to both the node and the baseline)
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { MAIN } from "../tests/util.ts";
import { giveToServerUser } from "../lib/privilege/testing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pairs: { type: "string", default: "1000,10000" },
    seconds: { type: "string", default: "45" },
    interval: { type: "string", default: "30s" },
    "v8-flags": { type: "string", default: "" },
    /** Another entry point taking main.ts's arguments (a diagnostic wrapper). */
    main: { type: "string", default: MAIN },
  },
});
const sizes = values.pairs.split(",").map(Number);
const seconds = Number(values.seconds);
const v8 = values["v8-flags"] ? [`--v8-flags=${values["v8-flags"]}`] : [];

interface Memory {
  steady: number;
  peak: number;
  /** CPU seconds the process used (user + system). */
  cpu: number;
}

/** Runs `args` for `ms`, sampling VmRSS each second once `ready` was printed. */
async function measure(args: string[], ms: number, ready?: RegExp): Promise<Memory> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let sawReady = !ready;
  let log = "";
  const reader = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (ready && ready.test(chunk)) sawReady = true;
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
  let stat = "";
  while (performance.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 1000));
    if (exited) throw new Error(`${args.join(" ")} exited early:\n${log}`);
    status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    stat = await Deno.readTextFile(`/proc/${child.pid}/stat`);
    if (sawReady) samples.push(kb(status, "VmRSS"));
  }
  child.kill("SIGKILL");
  await child.status;
  await reader.catch(() => {});
  if (!sawReady) throw new Error(`process never became ready (${ready})`);
  const last = samples.slice(-Math.max(1, Math.floor(samples.length / 3))).sort((a, b) => a - b);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return {
    steady: last[Math.floor(last.length / 2)]!,
    peak: kb(status, "VmHWM"),
    cpu: (f[11]! + f[12]!) / 100,
  };
}

const kb = (status: string, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;

/** A tree of `pairs` hosts with a passing TCP check each, and the listeners they check. */
async function setup(pairs: number) {
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
    `listen: 127.0.180.1:29399\nstate_dir: ${join(tree, "state")}\n` +
      `interval: ${values.interval}\ntimeout: 2s\nconcurrency: 32\n`,
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

const mib = (b: number) => (b / 1048576).toFixed(1);
const empty = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(empty, "await new Promise((r) => setTimeout(r, 600_000));\n");
const ms = seconds * 1000;
const base = await measure(["run", "-A", "--quiet", ...v8, empty], 5000);
await Deno.remove(empty);
console.log(
  `memory: bare deno run${v8.length ? ` ${v8[0]}` : ""}: steady ${mib(base.steady)} MiB, ` +
    `peak ${mib(base.peak)} MiB`,
);
const got: [number, Memory][] = [];
for (const pairs of sizes) {
  await using t = await setup(pairs);
  const m = await measure(
    ["run", "-A", "--quiet", ...v8, values.main, "run", "--config", t.tree],
    ms,
    /node started/,
  );
  got.push([pairs, m]);
  console.log(
    `memory: dmonitor run, ${pairs} checks every ${values.interval}, ${seconds}s: ` +
      `steady ${mib(m.steady)} MiB (${(m.steady / base.steady).toFixed(2)}x bare), ` +
      `peak ${mib(m.peak)} MiB (${(m.peak / base.peak).toFixed(2)}x), ` +
      `CPU ${m.cpu.toFixed(1)} s`,
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
