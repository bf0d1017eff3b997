import assert from "node:assert/strict";
import { parseSyncSection, readPandoraConf, requireSites } from "./settings.ts";

const ctx = { root: "/etc/dmonitor", stateDir: "/var/lib/dmonitor" };

Deno.test("parseSyncSection: Pandora's keys with Pandora's meanings and defaults", () => {
  const { settings, problems } = parseSyncSection({
    syncserver: 1,
    sync_address: "10.1.0.5, 10.2.0.5:41200,[fd00::5]",
    sync_ca: "/etc/pandora/ca.crt",
    sync_cert: "tls/central.crt",
    sync_key: "tls/central.key",
  }, ctx);
  assert.deepEqual(problems, []);
  assert.deepEqual(settings!.sites, [
    { name: "10.1.0.5", host: "10.1.0.5", port: 41121 },
    { name: "10.2.0.5:41200", host: "10.2.0.5", port: 41200 },
    { name: "[fd00::5]", host: "fd00::5", port: 41121 },
  ]);
  assert.deepEqual(settings!.tls, {
    caFile: "/etc/pandora/ca.crt",
    certFile: "/etc/dmonitor/tls/central.crt",
    keyFile: "/etc/dmonitor/tls/central.key",
  });
  assert.equal(settings!.retries, 3);
  assert.equal(settings!.timeoutMs, 10_000);
  assert.equal(settings!.intervalMs, 60_000);
  assert.equal(settings!.parallel, 4);
  assert.equal(settings!.unreachableAfterMs, 600_000);
  assert.equal(settings!.directory, "/var/lib/dmonitor/sync");
  assert.equal(settings!.sitesDir, "/etc/dmonitor/sites.d");
  assert.equal(settings!.database, null);
  assert.equal(settings!.enabled, true);
});

Deno.test("parseSyncSection: dmonitor's keys; sync_port applies to bare addresses", () => {
  const { settings, problems } = parseSyncSection({
    sync_address: ["127.0.0.2"],
    sync_port: 41300,
    sites: { "plant-7": "127.0.0.3", "plant-8": "127.0.0.4:5000" },
    sync_retries: "5",
    sync_timeout: "3",
    sync_password: "pw",
    interval: "10s",
    parallel: 2,
    unreachable_after: "2m",
    directory: "work",
    database: "/srv/central.db",
    batch: 16,
    session_timeout: "1m",
    ledger_retention: "10d",
    sites_dir: "/srv/sites.d",
    backoff_base: "500ms",
    backoff_max: "30s",
  }, ctx);
  assert.deepEqual(problems, []);
  const s = settings!;
  assert.deepEqual(s.sites, [
    { name: "127.0.0.2", host: "127.0.0.2", port: 41300 },
    { name: "plant-7", host: "127.0.0.3", port: 41300 },
    { name: "plant-8", host: "127.0.0.4", port: 5000 },
  ]);
  assert.deepEqual(
    [
      s.retries,
      s.timeoutMs,
      s.password,
      s.intervalMs,
      s.parallel,
      s.unreachableAfterMs,
      s.directory,
      s.database,
    ],
    [5, 3000, "pw", 10_000, 2, 120_000, "/etc/dmonitor/work", "/srv/central.db"],
  );
  assert.deepEqual([
    s.batch,
    s.sessionTimeoutMs,
    s.ledgerRetentionMs,
    s.sitesDir,
    s.backoffBaseMs,
    s.backoffMaxMs,
  ], [
    16,
    60_000,
    10 * 86_400_000,
    "/srv/sites.d",
    500,
    30_000,
  ]);
});

Deno.test("parseSyncSection: problems name key and value; no site is checked at start", () => {
  const { settings, problems } = parseSyncSection({
    syncserver: "yes",
    sync_address: "10.0.0.1,bad host",
    sync_port: 70000,
    sync_cert: "c.crt",
    sync_retries: -1,
    parallel: 0,
    sites: { "10.0.0.1": "10.0.0.9", "no good": "1.2.3.4", twice: "10.0.0.1:41121" },
    surprise: 1,
  }, ctx);
  assert.equal(settings, null);
  assert.deepEqual(problems.map((p) => `${p.key} ${p.message}`), [
    `sync.syncserver must be 1 or 0, got "yes"`,
    "sync.sync_port must be from 1 to 65535, got 70000",
    "sync.sync_retries must be from 0 to 100, got -1",
    "sync.parallel must be from 1 to 256, got 0",
    `sync.surprise is not a known setting (known: syncserver, sync_address, sync_port, sync_ca, sync_cert, sync_key, sync_retries, sync_timeout, sync_password, sites, interval, parallel, unreachable_after, directory, database, batch, session_timeout, ledger_retention, sites_dir, backoff_base, backoff_max)`,
    "sync.sync_cert and sync_key must be given together (the client certificate and its key)",
    `sync.sync_address entry must be a host or host:port, got "bad host"`,
    `sync.sites.10.0.0.1 names the site "10.0.0.1" twice`,
    `sync.sites.no good name must be a site name (letters, digits, '.', '-', '_'), got "no good"`,
    `sync.sites.twice is the address of the site "10.0.0.1" already, got "10.0.0.1:41121"`,
  ]);
  const empty = parseSyncSection({ interval: 30 }, ctx).settings!;
  assert.match(requireSites(empty)!.message, /at least one site/);
  assert.equal(requireSites(parseSyncSection({ syncserver: 0 }, ctx).settings!), null);
});

Deno.test("readPandoraConf: only the sync keys of a pandora_server.conf, which win over yaml", () => {
  const conf = `# Pandora FMS server configuration
servername central
incomingdir /var/spool/pandora/data_in
syncserver 1
sync_address 127.0.0.2,127.0.0.3
sync_port 41125
sync_ca /etc/pandora/ssl/ca.crt
sync_cert /etc/pandora/ssl/central.crt
sync_key /etc/pandora/ssl/central.key
sync_retries 2
sync_timeout 7
#sync_port 1
`;
  const keys = readPandoraConf(conf);
  assert.deepEqual(keys, {
    syncserver: "1",
    sync_address: "127.0.0.2,127.0.0.3",
    sync_port: "41125",
    sync_ca: "/etc/pandora/ssl/ca.crt",
    sync_cert: "/etc/pandora/ssl/central.crt",
    sync_key: "/etc/pandora/ssl/central.key",
    sync_retries: "2",
    sync_timeout: "7",
  });
  const { settings, problems } = parseSyncSection({ sync_address: "10.9.9.9", interval: "5s" }, {
    ...ctx,
    overrides: keys,
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(settings!.sites.map((s) => `${s.host}:${s.port}`), [
    "127.0.0.2:41125",
    "127.0.0.3:41125",
  ]);
  assert.deepEqual([settings!.retries, settings!.timeoutMs, settings!.intervalMs], [2, 7000, 5000]);
  // No yaml section at all: the Pandora file alone is enough.
  assert.equal(parseSyncSection(undefined, { ...ctx, overrides: keys }).settings!.sites.length, 2);
});
