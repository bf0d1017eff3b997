// A real PostgreSQL (throw-away cluster on 127.0.142.2): the password comes from password_file,
// migrations started by many nodes at once are applied once each, a newer schema is refused, and
// the pool reconnects after the server restarted.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, StoreError } from "../errors/mod.ts";
import { loadPgFiles, openPg } from "./connect.ts";
import { migrate, type Migration } from "./migrate.ts";
import { parseStoreSection } from "./settings.ts";
import { pgMissing, startPgCluster } from "./testing.ts";

const MIGRATIONS: Migration[] = [
  { version: 1, name: "t", sql: "CREATE TABLE t (id INTEGER PRIMARY KEY)" },
  {
    version: 2,
    name: "t.v",
    sql: "ALTER TABLE t ADD COLUMN v TEXT; INSERT INTO t VALUES (1, 'a')",
  },
  { version: 3, name: "u", sql: "CREATE TABLE u (id INTEGER)" },
];

Deno.test({
  name:
    "postgresql: password_file, concurrent migrations once each, newer schema refused, reconnect",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const missing = pgMissing();
    if (missing) throw new Error(missing);
    await using pg = await startPgCluster({ host: "127.0.142.2" });
    // As an operator writes it: the section, then the files it names.
    const { settings, problems } = parseStoreSection({
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: pg.user,
      password_file: pg.passwordFile,
    }, { root: "/" });
    assert.deepEqual(problems, []);
    const conn = await loadPgFiles(settings!);
    const pools = Array.from({ length: 6 }, () => openPg(conn, { max: 2 }));
    try {
      // Six nodes start at once: every migration is applied by exactly one of them.
      const applied = await Promise.all(
        pools.map((p, i) => migrate(p, "demo", MIGRATIONS, `n${i}`)),
      );
      assert.deepEqual(applied.flat().sort(), [1, 2, 3]);
      const rows = await pools[0]!.unsafe(
        "SELECT version, applied_by FROM dmonitor_schema WHERE component = 'demo' ORDER BY version",
      );
      assert.deepEqual(rows.map((r) => r.version), [1, 2, 3]);
      assert.deepEqual((await pools[0]!.unsafe("SELECT v FROM t")).map((r) => r.v), ["a"]);
      // An older dmonitor (knows up to 2) refuses a database at version 3.
      await assert.rejects(
        migrate(pools[1]!, "demo", MIGRATIONS.slice(0, 2), "old"),
        (e: Error) =>
          e instanceof StoreError && /version 3, this dmonitor knows up to 2/.test(e.message),
      );
      // A failing migration rolls back whole: nothing of it, and not recorded.
      await assert.rejects(
        migrate(pools[2]!, "demo", [...MIGRATIONS, {
          version: 4,
          name: "bad",
          sql: "CREATE TABLE w (id INTEGER); SELECT no_such_function()",
        }], "n2"),
        StoreError,
      );
      assert.equal((await pools[0]!.unsafe("SELECT to_regclass('w') AS w"))[0]!.w, null);
      // The server restarts (an immediate stop, as a crash): the pools reconnect by themselves.
      await pg.restart();
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await pools[3]!.unsafe("SELECT count(*)::int AS n FROM t").then(
          (r) => r[0]!.n === 1,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(ok, "reconnected after the restart");
    } finally {
      for (const p of pools) await p.end({ timeout: 1 });
    }
    // A wrong password is refused by the server, with its words.
    const wrong = join(await Deno.makeTempDir(), "pw");
    await Deno.writeTextFile(wrong, "nope\n");
    const bad = openPg(await loadPgFiles({ ...settings!, passwordFile: wrong }), { max: 1 });
    await assert.rejects(bad.unsafe("SELECT 1"), /password authentication failed/);
    await bad.end({ timeout: 1 });
    // A password file that cannot be read is a configuration problem naming the key and the file.
    await assert.rejects(
      loadPgFiles({ ...settings!, passwordFile: "/nonexistent/pw" }),
      (e: Error) =>
        e instanceof ConfigError &&
        /store\.password_file.*cannot read "\/nonexistent\/pw"/.test(e.message),
    );
  },
});
