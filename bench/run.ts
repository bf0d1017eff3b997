/**
 * Runs every benchmark in bench/ one after another, each in its own process, and prints their
 * figures. Benchmarks print ratios against baselines measured in the same run; nothing here asserts.
 *
 *   deno run -A bench/run.ts [NAME...]     (NAME: plugin, tcp, memory, quorum, tentacle, sync, sync-pg, page, scheduler,
 *                                            metrics)
 */
import { dirname, join } from "node:path";

const here = dirname(new URL(import.meta.url).pathname);
const BENCHES: Record<string, string> = {
  plugin: "plugin_throughput.ts",
  tcp: "checks_tcp.ts",
  memory: "memory_run.ts",
  quorum: "quorum_latency.ts",
  tentacle: "tentacle_bench.ts",
  sync: "sync_bench.ts",
  "sync-pg": "sync_pg_bench.ts",
  page: "status_page.ts",
  scheduler: "scheduler.ts",
  metrics: "metrics_render.ts",
};

const chosen = Deno.args.length ? Deno.args : Object.keys(BENCHES);
let failed = 0;
for (const name of chosen) {
  const file = BENCHES[name];
  if (!file) {
    console.error(
      `bench: unknown benchmark ${JSON.stringify(name)} (known: ${
        Object.keys(BENCHES).join(", ")
      })`,
    );
    Deno.exit(64);
  }
  const path = join(here, file);
  try {
    await Deno.stat(path);
  } catch {
    console.log(`== ${name}: ${file} not present, skipped`);
    continue;
  }
  console.log(`== ${name} (bench/${file})`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", path],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    failed++;
    console.log(`== ${name}: exited ${code}`);
  }
}
Deno.exit(failed ? 1 : 0);
