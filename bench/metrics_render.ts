/**
 * /metrics at scale: the time a scrape holds the event loop, rendered in one piece (the baseline,
 * how /metrics was sent before) against the longest of the chunks it is sent in now
 * (lib/metrics/registry.ts renderChunks; the route hands the loop back before each), for a view
 * of N checks each with a result, a phase and one perfdata item.
 *
 *   deno run -A bench/metrics_render.ts [N ...]        (default 100 1000 3000 10000)
 * @module
 */
import { renderChunks, renderFamilies } from "../lib/metrics/mod.ts";
import { viewFamilies } from "../lib/status/metrics.ts";
import type { CheckView, StatusView } from "../lib/status/types.ts";
import { sampleView } from "../lib/status/testing.ts";
import { timeChunks } from "./chunks_util.ts";

function view(n: number): StatusView {
  const base = sampleView();
  const one = base.checks.find((c) => c.lastRun !== null)!;
  const checks: CheckView[] = Array.from({ length: n }, (_, i) => ({
    ...one,
    host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    test: "tcp",
    status: i % 7 ? "OK" : "FAIL",
    state: i % 7 ? "OK" : "FAIL",
    phase: i % 7 ? "ok" : "down",
    perfdata: [
      { label: "time", unit: "s", value: 0.001 * i } as NonNullable<CheckView["perfdata"]>[number],
    ],
  }));
  return { ...base, checks };
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sizes = Deno.args.length ? Deno.args.map(Number) : [100, 1000, 3000, 10000];
console.log(
  `metrics render (${navigator.hardwareConcurrency} CPUs, load ${
    Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")
  }), median of 5:`,
);
console.log("N       samples  KiB     families_ms  one_piece_ms  chunks  longest_chunk_ms  ratio");
for (const n of sizes) {
  const v = view(n);
  for (let w = 0; w < 2; w++) renderFamilies(viewFamilies(v));
  const fam: number[] = [], whole: number[] = [], longest: number[] = [];
  let chunks = 0, bytes = 0, samples = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const f = viewFamilies(v);
    fam.push(performance.now() - t0);
    samples = f.reduce((a, x) => a + x.samples.length, 0);
    const t1 = performance.now();
    bytes = renderFamilies(f).length;
    whole.push(performance.now() - t1);
    const t = timeChunks(renderChunks(f));
    chunks = t.count;
    longest.push(t.longestMs);
  }
  const [a, b, c] = [median(fam), median(whole), median(longest)];
  console.log(
    `${String(n).padEnd(8)}${String(samples).padEnd(9)}${
      String(Math.round(bytes / 1024)).padEnd(8)
    }` +
      `${a.toFixed(1).padEnd(13)}${b.toFixed(1).padEnd(14)}${String(chunks).padEnd(8)}` +
      `${c.toFixed(2).padEnd(18)}${(c / b).toFixed(3)}x`,
  );
}
