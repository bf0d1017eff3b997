import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { DB_FILE, StateStore } from "./mod.ts";
import { WRITE_CHUNK, WRITE_DELAY_MS } from "./state_store.ts";
import type { CheckResult } from "../runner/result.ts";

const result = (over: Partial<CheckResult>): CheckResult => ({
  host: "h",
  test: "t",
  status: "OK",
  state: "OK",
  output: "fine",
  perfdata: "",
  exitCode: 0,
  startedAt: 1000,
  durationMs: 5,
  ...over,
});

Deno.test("record keeps the last result, its 'since', and history", () => {
  using s = StateStore.open(":memory:");
  s.record(result({ startedAt: 1000 }));
  s.record(result({ startedAt: 2000 }));
  assert.equal(s.last("h", "t")!.since, 1000, "same status keeps since");
  s.record(result({ startedAt: 3000, status: "FAIL", state: "FAIL", output: "down" }));
  const last = s.last("h", "t")!;
  assert.equal(last.status, "FAIL");
  assert.equal(last.since, 3000);
  assert.equal(last.output, "down");
  assert.deepEqual(s.history("h", "t").map((e) => e.startedAt), [3000, 2000, 1000]);
  assert.equal(s.prune(3500, 1000), 2);
  assert.deepEqual(s.history("h", "t").map((e) => e.startedAt), [3000]);
  assert.equal(s.last("x", "y"), null);
});

Deno.test("state survives reopening the database file", async () => {
  const dir = await Deno.makeTempDir();
  {
    using s = StateStore.open(dir);
    s.record(result({ host: "a", test: "ping", startedAt: 42 }));
  }
  using s2 = StateStore.open(dir);
  assert.deepEqual(s2.lastAll().map((r) => [r.host, r.test, r.startedAt]), [["a", "ping", 42]]);
  assert.equal(s2.forgetExcept(new Set()), 1);
  assert.equal(s2.lastAll().length, 0);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("recordSoon: every read sees it at once, commits share transactions, close commits the rest", async () => {
  const dir = await Deno.makeTempDir();
  const n = WRITE_CHUNK * 2 + 7;
  {
    using s = StateStore.open(dir);
    s.record(result({ host: "h0", startedAt: 1 }));
    assert.equal(s.recordSoon(result({ host: "h0", startedAt: 2 }))?.startedAt, 1);
    for (let i = 1; i < n; i++) s.recordSoon(result({ host: `h${i}`, startedAt: 2 }));
    // Not in the file yet (another connection sees nothing of it)...
    const other = new DatabaseSync(join(dir, DB_FILE));
    const committed = () =>
      (other.prepare("SELECT COUNT(*) AS n FROM check_history").get() as { n: number }).n;
    assert.equal(committed(), 1);
    // ...but this store's reads do.
    assert.equal(s.last("h0", "t")?.startedAt, 2);
    assert.equal(s.last("h0", "t")?.since, 1, "same status keeps since");
    assert.equal(s.history("h0", "t").length, 2);
    assert.equal(committed(), n + 1);
    s.recordSoon(result({ host: "late", status: "FAIL", state: "FAIL", startedAt: 3 }));
    assert.equal(s.last("late", "t")?.since, 3);
    other.close();
  }
  using s2 = StateStore.open(dir);
  assert.equal(s2.lastAll().length, n + 1, "closing committed what was held");
  assert.equal(s2.last("late", "t")?.status, "FAIL");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("recordSoon commits by itself within moments, in bounded transactions", async () => {
  using s = StateStore.open(":memory:");
  let commits = 0;
  const exec = s.db.exec.bind(s.db);
  s.db.exec = (sql: string) => {
    if (sql === "COMMIT") commits++;
    return exec(sql);
  };
  for (let i = 0; i < WRITE_CHUNK * 3; i++) s.recordSoon(result({ host: `h${i}` }));
  while (commits < 3) await new Promise((r) => setTimeout(r, WRITE_DELAY_MS));
  assert.equal(commits, 3);
  s.db.exec = exec;
  assert.equal(s.lastAll().length, WRITE_CHUNK * 3);
});

Deno.test("an unusable state directory is a StoreError naming the path", () => {
  assert.throws(
    () => StateStore.open("/proc/nope/dmonitor"),
    /Cannot open the state database \/proc\/nope\/dmonitor\/state\.db/,
  );
});

Deno.test("failingCount counts checks whose last result failed or timed out", () => {
  using s = StateStore.open(":memory:");
  assert.equal(s.failingCount(), 0);
  s.record(result({ host: "a" }));
  s.record(result({ host: "b", status: "FAIL", state: "FAIL" }));
  s.record(result({ host: "c", status: "TIMEOUT", state: "TIMEOUT" }));
  assert.equal(s.failingCount(), 2);
  s.record(result({ host: "b", startedAt: 2000 }));
  assert.equal(s.failingCount(), 1);
});

Deno.test("history keeps each run's raw perfdata; a database from before gets the column", async () => {
  {
    using s = StateStore.open(":memory:");
    s.record(result({ startedAt: 1000, perfdata: "load=0.5;1;2" }));
    s.record(result({ startedAt: 2000, perfdata: "load=3;1;2" }));
    assert.deepEqual(s.history("h", "t").map((e) => e.perfdata), ["load=3;1;2", "load=0.5;1;2"]);
  }
  const dir = await Deno.makeTempDir();
  const { DatabaseSync } = await import("node:sqlite");
  const old = new DatabaseSync(`${dir}/state.db`);
  old.exec(`CREATE TABLE check_history (
    id INTEGER PRIMARY KEY, host TEXT NOT NULL, test TEXT NOT NULL, status TEXT NOT NULL,
    state TEXT NOT NULL, output TEXT NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL);
    INSERT INTO check_history (host, test, status, state, output, started_at, duration_ms)
      VALUES ('h', 't', 'OK', 'OK', 'old', 500, 1);`);
  old.close();
  using s = StateStore.open(dir);
  s.record(result({ startedAt: 1000, perfdata: "x=1" }));
  assert.deepEqual(s.history("h", "t").map((e) => [e.output, e.perfdata]), [["fine", "x=1"], [
    "old",
    "",
  ]]);
});
