/**
 * Page weight and server time of the status page for 1,000 checks with a full history: a real
 * config tree (1,000 tcp checks), a real state database filled through `StateStore.record` so that
 * every check has all its rows (a run in each 10-minute bucket of the last 24 h, one on each of
 * the 29 days before, a 20-minute outage for every 20th check), then the page built as the node
 * builds it (store view + history summaries + render) several times. Prints bytes (raw and gzip),
 * the median server time, the same for the page without history (the baseline: what the history
 * adds), the per-check page, and whether each figure is within its budget. Then what a request
 * holds the node for in one piece, now that the page is sent in chunks of 100 rows with the event
 * loop run between them: building the view (with history) and the longest chunk's rendering.
 *
 *   deno run -A bench/status_page.ts [CHECKS]      (default 1000)
 */
import { join } from "node:path";
import { loadNodeConfig } from "../lib/node/load.ts";
import { buildStoreView, renderCheckPage, renderPage } from "../lib/status/mod.ts";
import { renderPageChunks } from "../lib/status/page.tsx";
import { timeChunks } from "./chunks_util.ts";
import { StateStore, transaction } from "../lib/store/mod.ts";
import { checkPageView } from "../lib/node/check_view.ts";
import type { CheckResult } from "../lib/runner/result.ts";

/** The budget for 1,000 checks (README, "Status page"). */
export const BUDGET = { rawBytes: 2.5 * 1048576, gzipBytes: 256 * 1024, serverMs: 400 };

const CHECKS = Number(Deno.args[0] ?? 1000);
const MIN = 60_000, DAY = 86_400_000;
const NOW = Date.now();

const root = await Deno.makeTempDir({ prefix: "dmonitor-page-bench-" });
await Deno.writeTextFile(
  join(root, "dmonitor.yaml"),
  `node: bench\nlisten: 127.0.0.1:2929\nstate_dir: ${join(root, "state")}\n`,
);
for (let i = 0; i < CHECKS; i++) {
  const dir = join(root, "hosts.d", `10.1.${Math.floor(i / 250)}.${i % 250}`);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "tcp"), "port: 22\n");
}
const config = await loadNodeConfig(root);
const store = StateStore.open(join(root, "state"));

const t0 = performance.now();
const result = (i: number, at: number, fail: boolean): CheckResult => ({
  host: config.tests[i]!.host,
  test: "tcp",
  status: fail ? "FAIL" : "OK",
  state: fail ? "FAIL" : "OK",
  output: fail
    ? `connection refused by ${config.tests[i]!.host}:22`
    : `connected to ${config.tests[i]!.host}:22 in 0.${i % 10} ms`,
  perfdata: `time=0.00${i % 10}s;;;0`,
  exitCode: null,
  startedAt: at,
  durationMs: 1 + (i % 30) + ((at / MIN) % 17),
});
const times: number[] = [];
for (let d = 29; d >= 1; d--) times.push(NOW - d * DAY);
for (let m = 24 * 60; m > 0; m -= 10) times.push(NOW - m * MIN);
// A run in each 10-minute slot of the last day: every hour bucket holds 6 runs.
for (const at of times) {
  transaction(store.db, () => {
    for (let i = 0; i < config.tests.length; i++) {
      const fail = i % 20 === 0 && at > NOW - 3 * 60 * MIN && at < NOW - 160 * MIN;
      store.record(result(i, at, fail));
    }
  });
}
console.error(
  `filled ${times.length * CHECKS} runs in ${((performance.now() - t0) / 1000).toFixed(1)}s`,
);

async function gzipSize(text: string): Promise<number> {
  const s = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(s).arrayBuffer()).byteLength;
}

function measure(render: () => string, n = 15): { ms: number; html: string } {
  const ms: number[] = [];
  let html = "";
  for (let k = 0; k < n; k++) {
    const a = performance.now();
    html = render();
    ms.push(performance.now() - a);
  }
  ms.sort((a, b) => a - b);
  return { ms: ms[Math.floor(n / 2)]!, html };
}

const opts = { version: "bench", startedAt: NOW - DAY, now: NOW };
const full = measure(() =>
  renderPage(
    buildStoreView(config, store.lastAll(), { ...opts, summaries: store.summaries(NOW) }),
    { refreshSeconds: 30 },
  )
);
const read = measure(() => String(store.summaries(NOW).size));
const viewOnly = measure(() =>
  String(
    buildStoreView(config, store.lastAll(), { ...opts, summaries: store.summaries(NOW) }).checks
      .length,
  )
);
const fullView = buildStoreView(config, store.lastAll(), {
  ...opts,
  summaries: store.summaries(NOW),
});
const longest: number[] = [];
let chunkCount = 0;
for (let k = 0; k < 15; k++) {
  const t = timeChunks(renderPageChunks(fullView, { refreshSeconds: 30 }));
  chunkCount = t.count;
  longest.push(t.longestMs);
}
longest.sort((a, b) => a - b);
const bare = measure(() =>
  renderPage(buildStoreView(config, store.lastAll(), opts), { refreshSeconds: 30 })
);
const one = config.tests[0]!;
const page = measure(() => {
  const summaries = new Map([[`${one.host}\t${one.test}`, store.summary(one.host, one.test, NOW)]]);
  // As nodeStatusSource builds it for /check/ and /badge/: that check alone.
  const only = { ...config, tests: [one] };
  const last = store.last(one.host, one.test);
  const view = buildStoreView(only, last ? [last] : [], { ...opts, summaries });
  return renderCheckPage(
    checkPageView(view, one.host, one.test, {
      days: store.days(one.host, one.test, NOW),
      changes: store.changes(one.host, one.test, NOW - 7 * DAY),
      runs: store.history(one.host, one.test, 120),
      outbox: [],
    })!,
    { refreshSeconds: 30 },
  );
});

const enc = (s: string) => new TextEncoder().encode(s).length;
const fullRaw = enc(full.html), fullGz = await gzipSize(full.html);
const bareRaw = enc(bare.html), bareGz = await gzipSize(bare.html);
const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
const verdict = (v: number, max: number) => (v <= max ? "within" : "OVER") + ` budget ${max}`;
const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0];
console.log(
  `status page, ${CHECKS} checks with 24 h / 30 d history (${navigator.hardwareConcurrency} CPUs, ` +
    `load average ${load}):`,
);
console.log(
  `  bytes: ${kib(fullRaw)} raw (${(fullRaw / CHECKS).toFixed(0)} B per check), ${
    kib(fullGz)
  } gzip`,
);
console.log(
  `  server time (view + history + render, median of 15): ${full.ms.toFixed(0)} ms, of which ` +
    `reading the history ${read.ms.toFixed(0)} ms`,
);
console.log(
  `  baseline without history: ${kib(bareRaw)} raw, ${kib(bareGz)} gzip, ${
    bare.ms.toFixed(0)
  } ms; history adds x${(fullRaw / bareRaw).toFixed(2)} bytes, x${
    (full.ms / bare.ms).toFixed(2)
  } time`,
);
console.log(
  `  one check's page: ${kib(enc(page.html))} raw, ${page.ms.toFixed(1)} ms`,
);
console.log(
  `  held in one piece (median of 15): the view with history ${viewOnly.ms.toFixed(0)} ms; ` +
    `rendered in ${chunkCount} chunks, the longest ${longest[7]!.toFixed(1)} ms ` +
    `(x${(longest[7]! / full.ms).toFixed(3)} of the whole request in one piece)`,
);
if (CHECKS === 1000) {
  console.log(
    `  budget for 1,000 checks: raw ${verdict(fullRaw, BUDGET.rawBytes)} B; gzip ${
      verdict(fullGz, BUDGET.gzipBytes)
    } B; time ${verdict(Math.round(full.ms), BUDGET.serverMs)} ms`,
  );
}
store.close();
await Deno.remove(root, { recursive: true });
