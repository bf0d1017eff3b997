// One pull session against real Tentacle servers on loopback: safe move, LS + MV, TLS with client
// certificates, leftovers of an interrupted run, partial files, config push.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { memoryLogger } from "../log/mod.ts";
import { systemClock } from "../schedule/mod.ts";
import { startTestServer } from "../tentacle/testing.ts";
import { BUNDLE_CONF, BUNDLE_MD5, bundleMd5, encodeBundle } from "../spool/bundle.ts";
import { PeerError } from "../errors/mod.ts";
import { parseSyncSection } from "./settings.ts";
import { pullSite, siteDirs } from "./session.ts";
import { SqliteSyncStore } from "./store_sqlite.ts";
import { dataFile, freePort, notification, result, T0, tempDir, TLS_DIR } from "./testing.ts";

function setup(work: string, section: Record<string, unknown> = {}) {
  const { settings, problems } = parseSyncSection(
    {
      sync_address: "127.0.0.1",
      directory: join(work, "sync"),
      sites_dir: join(work, "sites.d"),
      batch: 8,
      ...section,
    },
    { root: work, stateDir: work },
  );
  assert.deepEqual(problems, []);
  const store = new SqliteSyncStore(new DatabaseSync(":memory:"));
  const log = memoryLogger();
  return {
    settings: settings!,
    store,
    log,
    deps: { store, settings: settings!, log, clock: systemClock },
  };
}

async function fill(dir: string, n: number, agent = "node-1"): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${agent}.${1_700_000_000 + i}.data`;
    await Deno.writeTextFile(
      join(dir, name),
      dataFile(agent, T0 + i * 1000, [
        result({ test: "seq", output: String(i), startedAt: T0 + i }),
      ]),
    );
    names.push(name);
  }
  return names;
}

const entries = async (dir: string) =>
  (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();

for (const extensions of [true, false]) {
  Deno.test(`pullSite: drains every data file exactly once (${extensions ? "safe move" : "reference LS + MV"})`, async () => {
    await using w = await tempDir();
    await using srv = await startTestServer({ insecure: true, extensions });
    const { settings, store, deps } = setup(w.path, { sync_port: srv.port });
    await store.ensureSite("127.0.0.1", "x", T0);
    await fill(srv.dir, 20);
    await Deno.writeTextFile(join(srv.dir, "notes.txt"), "not a data file");
    const r = await pullSite(settings.sites[0]!, deps);
    assert.equal(r.safe, extensions);
    assert.deepEqual([r.listed, r.moved, r.ingested, r.duplicates, r.rejected, r.failed], [
      20,
      20,
      20,
      0,
      0,
      0,
    ]);
    assert.deepEqual(await entries(srv.dir), ["notes.txt"]);
    assert.deepEqual(await entries(siteDirs(settings.directory, "127.0.0.1").incoming), []);
    const hist = await store.history("127.0.0.1", "node-1", "www.example.com/seq", 100);
    assert.deepEqual(hist.map((h) => Number(h.at - T0)).sort((a, b) => a - b), [
      ...Array(20).keys(),
    ]);
    assert.equal(r.newestWrittenAt, T0 + 19_000);
  });
}

Deno.test("pullSite: mutual TLS with the test CA; a foreign client certificate is refused", async () => {
  await using w = await tempDir();
  await using srv = await startTestServer({
    insecure: true,
    tls: {
      certFile: TLS_DIR + "server.crt",
      keyFile: TLS_DIR + "server.key",
      caFile: TLS_DIR + "ca.crt",
    },
  });
  const tls = {
    sync_ca: TLS_DIR + "ca.crt",
    sync_cert: TLS_DIR + "client.crt",
    sync_key: TLS_DIR + "client.key",
  };
  const { settings, store, deps } = setup(w.path, { sync_port: srv.port, ...tls });
  await fill(srv.dir, 3);
  const r = await pullSite(settings.sites[0]!, deps);
  assert.deepEqual([r.safe, r.ingested], [true, 3]);
  assert.equal((await store.modules("127.0.0.1")).length, 2);
  const foreign = setup(w.path, {
    sync_port: srv.port,
    ...tls,
    sync_cert: TLS_DIR + "foreign-client.crt",
    sync_key: TLS_DIR + "foreign-client.key",
    sync_timeout: 2,
  });
  await fill(srv.dir, 1);
  await assert.rejects(pullSite(foreign.settings.sites[0]!, foreign.deps), PeerError);
  assert.equal((await entries(srv.dir)).length, 1, "nothing left the site");
});

Deno.test("pullSite: leftovers of a killed run are finished before connecting, even if the site is down", async () => {
  await using w = await tempDir();
  const { settings, store, deps } = setup(w.path, { sync_port: freePort(), sync_timeout: 1 });
  const dirs = siteDirs(settings.directory, "127.0.0.1");
  await Deno.mkdir(dirs.incoming, { recursive: true });
  // A complete download (renamed) not yet ingested, one already ingested but not deleted, and a
  // partial download (hidden temporary file).
  const done = dataFile("node-1", T0, [result()], [notification()]);
  await Deno.writeTextFile(join(dirs.incoming, "a.1.data"), done);
  const twice = dataFile("node-1", T0 + 1, [result()]);
  await Deno.writeTextFile(join(dirs.incoming, "a.2.data"), twice);
  const bytes = new TextEncoder().encode(twice);
  await store.ingest(
    "127.0.0.1",
    "a.2.data",
    bytes,
    (await import("node:crypto")).createHash("sha256").update(bytes).digest("hex"),
    T0,
  );
  await Deno.writeTextFile(join(dirs.incoming, ".dmonitor.tmp.abc.a.3.data"), done.slice(0, 50));
  await assert.rejects(pullSite(settings.sites[0]!, deps), PeerError);
  assert.deepEqual(await entries(dirs.incoming), []);
  assert.equal((await store.history("127.0.0.1", "node-1", "www.example.com/http")).length, 2);
  assert.equal((await store.pendingNotifications()).length, 1);
});

Deno.test("pullSite: a complete download left under its temporary name is ingested, not swept", async () => {
  await using w = await tempDir();
  const { settings, store, deps, log } = setup(w.path, { sync_port: freePort(), sync_timeout: 1 });
  const dirs = siteDirs(settings.directory, "127.0.0.1");
  await Deno.mkdir(dirs.incoming, { recursive: true });
  // Killed after the last body byte of an MV (the reference server has deleted its copy) and
  // before the rename: the temporary name records the announced size. One more is partial, and
  // one complete temporary file's name is also taken by a complete file not yet ingested.
  const uuid = () => crypto.randomUUID();
  const a = dataFile("node-1", T0, [result({ output: "a" })]);
  const b = dataFile("node-1", T0 + 1, [result({ output: "b" })]);
  const c = dataFile("node-1", T0 + 2, [result({ output: "c" })]);
  const len = (x: string) => new TextEncoder().encode(x).length;
  await Deno.writeTextFile(
    join(dirs.incoming, `.dmonitor.tmp.${uuid()}.size${len(a)}.a.1.data`),
    a,
  );
  await Deno.writeTextFile(
    join(dirs.incoming, `.dmonitor.tmp.${uuid()}.size${len(b)}.a.2.data`),
    b.slice(0, 60),
  );
  await Deno.writeTextFile(join(dirs.incoming, "a.3.data"), c);
  await Deno.writeTextFile(
    join(dirs.incoming, `.dmonitor.tmp.${uuid()}.size${len(b)}.a.3.data`),
    b,
  );
  await assert.rejects(pullSite(settings.sites[0]!, deps), PeerError); // the site is down
  assert.deepEqual(await entries(dirs.incoming), []);
  // a.1 from its temporary file, a.3 twice (the file in place, then the temporary one); a.2 was
  // partial: swept (the one file in flight, which a reference server may have deleted).
  const files = (await store.history("127.0.0.1", "node-1", "www.example.com/http")).map((h) =>
    h.file
  );
  assert.deepEqual(files.sort(), ["a.1.data", "a.3.data", "a.3.data"]);
  assert.equal(log.lines.filter((l) => /left under its temporary name/.test(l)).length, 2);
});

Deno.test("pullSite: a file still being written on a reference server is rejected, never ingested", async () => {
  await using w = await tempDir();
  await using srv = await startTestServer({ insecure: true, extensions: false });
  const { settings, store, deps } = setup(w.path, { sync_port: srv.port });
  const full = dataFile("node-1", T0, [result()]);
  await Deno.writeTextFile(join(srv.dir, "partial.1.data"), full.slice(0, full.length / 2));
  const r = await pullSite(settings.sites[0]!, deps);
  assert.deepEqual([r.ingested, r.rejected], [0, 1]);
  assert.deepEqual(await store.modules("127.0.0.1"), []);
  assert.deepEqual(await entries(siteDirs(settings.directory, "127.0.0.1").rejected), [
    "partial.1.data",
  ]);
});

Deno.test("pullSite: pushes sites.d/<site> as a .conf/.md5 pair when it changed, with SEND overwrite", async () => {
  await using w = await tempDir();
  await using srv = await startTestServer({
    insecure: true,
    overwrite: true,
    filters: ".*\\.conf:conf;.*\\.md5:md5",
  });
  const { settings, deps, log } = setup(w.path, { sync_port: srv.port });
  const site = join(settings.sitesDir, "127.0.0.1");
  await Deno.mkdir(join(site, "hosts.d/db.example"), { recursive: true });
  await Deno.writeTextFile(join(site, "hosts.d/db.example/tcp"), "port: 5432\n");
  await Deno.writeTextFile(join(site, "hosts.d/db.example/tcp~"), "editor leftover");
  assert.equal((await pullSite(settings.sites[0]!, deps)).push, "pushed");
  const conf = await Deno.readFile(join(srv.dir, "conf", BUNDLE_CONF));
  assert.equal(await Deno.readTextFile(join(srv.dir, "md5", BUNDLE_MD5)), bundleMd5(conf));
  assert.deepEqual(conf, encodeBundle({ files: { "hosts.d/db.example/tcp": "port: 5432\n" } }));
  assert.equal((await pullSite(settings.sites[0]!, deps)).push, "unchanged");
  await Deno.writeTextFile(join(site, "hosts.d/db.example/tcp"), "port: 5433\n");
  assert.equal((await pullSite(settings.sites[0]!, deps)).push, "pushed");
  assert.match(await Deno.readTextFile(join(srv.dir, "conf", BUNDLE_CONF)), /5433/);
  assert.ok(log.lines.some((l) => /pushed configuration to site/.test(l)));
});

Deno.test("pullSite: a site server without overwrite keeps draining; the push error is logged", async () => {
  await using w = await tempDir();
  await using srv = await startTestServer({ insecure: true });
  const { settings, deps, log } = setup(w.path, { sync_port: srv.port });
  await Deno.mkdir(join(settings.sitesDir, "127.0.0.1/hosts.d/a.example"), { recursive: true });
  await Deno.writeTextFile(join(settings.sitesDir, "127.0.0.1/hosts.d/a.example/ping"), "");
  await Deno.writeTextFile(join(srv.dir, BUNDLE_CONF), "old");
  await Deno.writeTextFile(join(srv.dir, BUNDLE_MD5), "0".repeat(32));
  await fill(srv.dir, 2);
  const r = await pullSite(settings.sites[0]!, deps);
  assert.deepEqual([r.ingested, r.push], [2, "none"]);
  assert.ok(
    log.lines.some((l) =>
      /ERROR .*cannot push the configuration to the site .*does not allow overwriting/.test(l)
    ),
    log.lines.join("\n"),
  );
});
