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
 *   deno run -A bench/history_size.ts [CHECKS] [DAYS]      (default 1000 30)
 */
import { DAY_MS, StateStore, transaction } from "../lib/store/mod.ts";
import type { CheckResult } from "../lib/runner/result.ts";

const CHECKS = Number(Deno.args[0] ?? 1000);
const DAYS = Number(Deno.args[1] ?? 30);
const STEP = 60_000;
const RETENTION = 30 * DAY_MS;
const T0 = Date.UTC(2026, 0, 1);

const dir = await Deno.makeTempDir({ prefix: "dmonitor-history-bench-" });
const store = StateStore.open(dir);
const hosts = Array.from({ length: CHECKS }, (_, i) => `host-${String(i).padStart(4, "0")}`);
const tests = ["ping", "ssh", "http", "disk"];
const result = (i: number, at: number): CheckResult => {
  // Check i fails from minute (i * 7) % 1440 of each day, for 5 minutes.
  const minute = Math.floor((at - T0) / STEP) % 1440;
  const failStart = (i * 7) % 1440;
  const fail = minute >= failStart && minute < failStart + 5;
  const ms = 5 + (i % 40) + (minute % 13);
  return {
    host: hosts[i]!,
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
const rawBytes = perTable
  ? (perTable["check_history"] ?? 0) + (perTable["check_history_key"] ?? 0) +
    (perTable["check_history_time"] ?? 0)
  : null;
store.close();
let size = 0;
for await (const e of Deno.readDir(dir)) size += (await Deno.stat(`${dir}/${e.name}`)).size;
await Deno.remove(dir, { recursive: true });

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
console.log(`history size: ${CHECKS} checks x ${DAYS} days at 60 s = ${runs} runs`);
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
