/**
 * Memory: peak RSS (VmHWM) of `dmonitor run` with 1,000 host+test pairs configured, against a bare
 * `deno run` of an empty script measured in the same run. Target: ratio <= 1.5.
 *
 *   deno run -A bench/memory_run.ts [--pairs 1000] [--seconds 25]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { MAIN } from "../tests/util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pairs: { type: "string", default: "1000" },
    seconds: { type: "string", default: "25" },
  },
});
const pairs = Number(values.pairs);
const seconds = Number(values.seconds);

async function peakRss(args: string[], ms: number, ready?: RegExp): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let sawReady = !ready;
  const reader = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (ready && ready.test(chunk)) sawReady = true;
    }
  })();
  await new Promise((r) => setTimeout(r, ms));
  const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
  child.kill("SIGKILL");
  await child.status;
  await reader.catch(() => {});
  if (!sawReady) throw new Error(`process never became ready (${ready})`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

// One listener per host address (127.0.x.y, all loopback), so every check passes: the figure is
// the steady state of a healthy node, not 1,000 simultaneous incidents.
const listeners: Deno.Listener[] = [];
const hostOf = (i: number) => `127.0.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;
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
const state = join(tree, "state");
await Deno.writeTextFile(
  join(tree, "dmonitor.yaml"),
  `listen: 127.0.0.1:0\n`.replace(":0", ":29299") +
    `state_dir: ${state}\ninterval: ${
      Deno.env.get("DMONITOR_BENCH_INTERVAL") ?? "10s"
    }\ntimeout: 2s\nconcurrency: 32\n`,
);
for (let i = 0; i < pairs; i++) {
  const host = hostOf(i);
  await Deno.mkdir(join(tree, "hosts.d", host), { recursive: true });
  await Deno.writeTextFile(join(tree, "hosts.d", host, "tcp"), `port: ${port}\n`);
}
const empty = join(tree, "empty.ts");
await Deno.writeTextFile(empty, "await new Promise((r) => setTimeout(r, 600_000));\n");

const ms = seconds * 1000;
const baseline = await peakRss(["run", "-A", "--quiet", empty], 3000);
const node = await peakRss(
  ["run", "-A", "--quiet", MAIN, "run", "--config", tree],
  ms,
  /node started/,
);
await Deno.remove(tree, { recursive: true });
for (const l of listeners) l.close();

const mib = (b: number) => (b / 1048576).toFixed(1);
console.log(`memory: bare deno run peak RSS ${mib(baseline)} MiB`);
console.log(
  `memory: dmonitor run, ${pairs} host+test pairs, ${seconds}s: peak RSS ${mib(node)} MiB`,
);
console.log(`memory: ratio ${(node / baseline).toFixed(2)} (target <= 1.5)`);
