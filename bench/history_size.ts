/**
 * Size of the state database after a simulated month: N checks run every 60 s for D days, every
 * result written through the real `StateStore.record` (last result, raw run, buckets, state
 * changes) into a real file, pruned every simulated hour as the node does, with
 * history_retention 30 d. Each check fails for 5 minutes once a day (a state change in and out),
 * so the changes table is not empty. One simulated minute's results share one transaction (the
 * node commits each run alone; the rows written are the same, only faster to simulate).
 *
 * Baseline, from the same run: what one raw row per run (the old unbounded history) would take,
 * from the measured size of a raw row times the runs simulated.
 *
 * SHARDS > 1 splits the checks over that many processes, each with its own state.db, and sums
 * their sizes and rows (a simulated month of 1,000 checks is 43 million writes: on a shared
 * 2-core machine one process takes close to two hours). A single file would differ by a few
 * pages of b-tree overhead.
 *
 *   deno run -A bench/history_size.ts [CHECKS] [DAYS] [SHARDS]      (default 1000 30 1)
 */
import { DAY_MS, StateStore, transaction } from "../lib/store/mod.ts";
import type { CheckResult } from "../lib/runner/result.ts";

const CHECKS = Number(Deno.args[0] ?? 1000);
const DAYS = Number(Deno.args[1] ?? 30);
const SHARDS = Number(Deno.args[2] ?? 1);
/** Set in a shard: the first check's number, and print the figures as one JSON line. */
const OFFSET = Deno.args[3] === undefined ? null : Number(Deno.args[3]);

interface Figures {
  checks: number;
  runs: number;
  size: number;
  rows: Record<string, number>;
  perTable: Record<string, number> | null;
  elapsed: number;
}

if (SHARDS > 1) {
  const per = Math.ceil(CHECKS / SHARDS);
  const parts = await Promise.all(Array.from({ length: SHARDS }, async (_, k) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        new URL(import.meta.url).pathname,
        String(Math.min(per, CHECKS - k * per)),
        String(DAYS),
        "1",
        String(k * per),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let last = "";
    for await (const line of child.stdout.pipeThrough(new TextDecoderStream())) {
      for (const l of line.split("\n").filter(Boolean)) {
        if (l.startsWith("{")) last = l;
        else console.log(`  shard ${k + 1}/${SHARDS}:${l}`);
      }
    }
    if (!(await child.status).success) throw new Error(`shard ${k + 1} failed`);
    return JSON.parse(last) as Figures;
  }));
  const sum = (f: (x: Figures) => number) => parts.reduce((a, x) => a + f(x), 0);
  const add = (f: (x: Figures) => Record<string, number> | null) => {
    const out: Record<string, number> = {};
    for (const x of parts) {
      for (const [k, v] of Object.entries(f(x) ?? {})) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  };
  report({
    checks: sum((x) => x.checks),
    runs: sum((x) => x.runs),
    size: sum((x) => x.size),
    rows: add((x) => x.rows),
    perTable: parts.every((x) => x.perTable) ? add((x) => x.perTable) : null,
    elapsed: Math.max(...parts.map((x) => x.elapsed)),
  }, `${SHARDS} processes, one state.db each, summed`);
  Deno.exit(0);
}
const STEP = 60_000;
const RETENTION = 30 * DAY_MS;
const T0 = Date.UTC(2026, 0, 1);

const dir = await Deno.makeTempDir({ prefix: "dmonitor-history-bench-" });
const store = StateStore.open(dir);
const hosts = Array.from(
  { length: CHECKS },
  (_, i) => `host-${String(i + (OFFSET ?? 0)).padStart(4, "0")}`,
);
const tests = ["ping", "ssh", "http", "disk"];
const result = (local: number, at: number): CheckResult => {
  // The check's number over all shards, so a split run simulates the same checks.
  const i = local + (OFFSET ?? 0);
  // Check i fails from minute (i * 7) % 1440 of each day, for 5 minutes.
  const minute = Math.floor((at - T0) / STEP) % 1440;
  const failStart = (i * 7) % 1440;
  const fail = minute >= failStart && minute < failStart + 5;
  const ms = 5 + (i % 40) + (minute % 13);
  return {
    host: hosts[local]!,
    test: tests[i % tests.length]!,
    status: fail ? "FAIL" : "OK",
    state: fail ? "CRITICAL" : "OK",
    output: fail ? "CRITICAL - connection refused (port 22)" : `OK - answered in ${ms} ms`,
    perfdata: `time=${ms / 1000}s;1;5;0 size=${1000 + (i % 17)}B;;;0`,
    exitCode: fail ? 2 : 0,
    startedAt: at,
    durationMs: ms,
  };
};

const steps = (DAYS * DAY_MS) / STEP;
const t0 = performance.now();
let runs = 0;
for (let s = 0; s < steps; s++) {
  const at = T0 + s * STEP;
  transaction(store.db, () => {
    for (let i = 0; i < CHECKS; i++) store.record(result(i, at + (i % 60) * 1000));
  });
  runs += CHECKS;
  if ((s + 1) % 60 === 0) store.prune(at + STEP, RETENTION);
  if ((s + 1) % 1440 === 0) {
    // The database's size as SQLite sees it (pages in use, WAL included), day by day.
    const pages = (store.db.prepare("PRAGMA page_count").get() as { page_count: number })
      .page_count;
    const free = (store.db.prepare("PRAGMA freelist_count").get() as { freelist_count: number })
      .freelist_count;
    console.log(
      `  day ${(s + 1) / 1440}/${DAYS}: ${
        ((pages - free) * 4096 / 1048576).toFixed(1)
      } MiB in use, ` +
        `${((performance.now() - t0) / 1000).toFixed(0)}s`,
    );
  }
}
const elapsed = (performance.now() - t0) / 1000;
store.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
const count = (table: string) =>
  (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
const rows = Object.fromEntries(
  ["check_last", "check_history", "check_rollup", "check_changes", "check_ids"].map((t) => [
    t,
    count(t),
  ]),
);
// Bytes per table from SQLite's own page accounting, when the dbstat table is compiled in.
let perTable: Record<string, number> | null = null;
try {
  perTable = Object.fromEntries(
    (store.db.prepare("SELECT name, SUM(pgsize) AS b FROM dbstat GROUP BY name").all() as {
      name: string;
      b: number;
    }[]).map((r) => [r.name, r.b]),
  );
} catch { /* no dbstat */ }
store.close();
let size = 0;
for await (const e of Deno.readDir(dir)) size += (await Deno.stat(`${dir}/${e.name}`)).size;
await Deno.remove(dir, { recursive: true });

const figures: Figures = { checks: CHECKS, runs, size, rows, perTable, elapsed };
if (OFFSET !== null) console.log(JSON.stringify(figures));
else report(figures, "one process");

function report(f: Figures, how: string): void {
  const { runs, size, rows, perTable, elapsed } = f;
  const CHECKS = f.checks;
  const rawBytes = perTable
    ? (perTable["check_history"] ?? 0) + (perTable["check_history_key"] ?? 0) +
      (perTable["check_history_time"] ?? 0)
    : null;
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  console.log(
    `history size: ${CHECKS} checks x ${DAYS} days at 60 s = ${runs} runs (${how})`,
  );
  console.log(
    `  state.db after pruning: ${mib(size)} (${(size / CHECKS / 1024).toFixed(1)} KiB per check)`,
  );
  console.log(`  rows: ${JSON.stringify(rows)}`);
  if (perTable) {
    console.log(
      `  bytes per table: ${
        Object.entries(perTable).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${mib(v)}`)
          .join(", ")
      }`,
    );
  }
  if (rawBytes !== null && rows.check_history) {
    const perRow = rawBytes / rows.check_history;
    const unbounded = perRow * runs;
    console.log(
      `  baseline, one raw row per run (${perRow.toFixed(0)} B/row): ${mib(unbounded)}; ` +
        `kept: ${(size / unbounded * 100).toFixed(2)}% of it`,
    );
  }
  console.log(
    `  simulated in ${elapsed.toFixed(0)}s (${(elapsed * 1e6 / runs).toFixed(1)} us per record)`,
  );
}
