// The puller against Pandora's Perl reference `tentacle_server -I -o` (mutual TLS, Pandora's sync
// filters): LS + MV drain, config push, a spool node sending to it, and a file sent by the
// reference `tentacle_client` as a Pandora agent would (unescaped attributes). Runs only when
// TENTACLE_REF_DIR names a directory holding the reference scripts (see lib/tentacle/README.md).
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { memoryLogger } from "../lib/log/mod.ts";
import { systemClock } from "../lib/schedule/mod.ts";
import { BUNDLE_CONF, BUNDLE_MD5 } from "../lib/spool/bundle.ts";
import { startSpool } from "../lib/spool/mod.ts";
import { parseSyncSection } from "../lib/sync/settings.ts";
import { pullSite } from "../lib/sync/session.ts";
import { SqliteSyncStore } from "../lib/sync/store_sqlite.ts";
import { configWith, dataFile, result } from "../lib/sync/testing.ts";
import { freePortOn, startPerlTentacleServer, TLS } from "./sync_util.ts";

const REF = Deno.env.get("TENTACLE_REF_DIR");
if (!REF) {
  console.warn("sync interop tests SKIPPED: set TENTACLE_REF_DIR (see lib/tentacle/README.md)");
}
const HOST = "127.0.110.2";
async function refServer(dir: string) {
  const port = freePortOn(HOST);
  const child = await startPerlTentacleServer(REF!, HOST, port, [
    ...["-a", HOST, "-p", String(port), "-s", dir, "-I", "-o", "-i", ".*\\.conf:conf;.*\\.md5:md5"],
    ...["-e", TLS + "e2e.crt", "-k", TLS + "e2e.key", "-f", TLS + "ca.crt"],
  ]);
  return {
    port,
    async [Symbol.asyncDispose]() {
      child.kill("SIGINT");
      await child.status;
    },
  };
}

Deno.test({
  name: "sync interop: draining and pushing to the reference tentacle_server over mutual TLS",
  ignore: !REF,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "dmonitor-sync-interop-" });
    await Deno.chmod(work, 0o755); // servers and nodes started as root switch to an unprivileged user
    await Deno.chmod(work, 0o755); // the reference server runs as nobody when we are root
    const site = join(work, "site");
    await Deno.mkdir(join(site, "conf"), { recursive: true });
    await Deno.mkdir(join(site, "md5"), { recursive: true });
    for (const d of [site, join(site, "conf"), join(site, "md5")]) await Deno.chmod(d, 0o777);
    await using srv = await refServer(site);
    const now = Date.now();
    for (let i = 0; i < 30; i++) {
      await Deno.writeTextFile(
        join(site, `n1.${1_800_000_000 + i}.data`),
        dataFile("n1", now + i, [result({ startedAt: now + i, output: String(i) })]),
      );
    }
    // A Pandora agent's file, sent by the reference client: attribute values are not escaped.
    const agentFile = join(work, "pandora-agent.1800000100.data");
    await Deno.writeTextFile(
      agentFile,
      `<?xml version='1.0' encoding='ISO-8859-1'?>\n<agent_data agent_name='legacy' description='Bob's box & <co>' ` +
        `interval='300' version='7.0NG.776' timestamp='2026/01/15 12:00:00'>\n<module><name><![CDATA[cpu]]></name>` +
        `<type>generic_data</type><data><![CDATA[42]]></data></module>\n</agent_data>\n`,
    );
    const sent = await new Deno.Command("perl", {
      args: [
        `${REF}/tentacle_client`,
        "-a",
        HOST,
        "-p",
        String(srv.port),
        "-e",
        TLS + "client.crt",
        "-k",
        TLS + "client.key",
        "-f",
        TLS + "ca.crt",
        agentFile,
      ],
      stdin: "null",
    }).output();
    assert.equal(sent.code, 0, new TextDecoder().decode(sent.stderr));
    // A spool node of the site sending to the reference server.
    const nodeRoot = join(work, "node");
    await Deno.mkdir(nodeRoot);
    const spool = (await startSpool(
      configWith(nodeRoot, {
        spool: {
          directory: "out",
          send_to: `${HOST}:${srv.port}`,
          ssl_ca: TLS + "ca.crt",
          ssl_cert: TLS + "client.crt",
          ssl_key: TLS + "client.key",
          write_interval: "1h",
          poll_interval: "1h",
        },
      }, "spool-node"),
      { logger: memoryLogger() },
    ))!;
    spool.addResult(result({ host: "from", test: "spool", startedAt: now }));
    await spool.poll();
    assert.equal(spool.stats().sent, 1);
    await spool.close();

    await Deno.mkdir(join(work, "sites.d/ref/hosts.d/db.example"), { recursive: true });
    await Deno.writeTextFile(join(work, "sites.d/ref/hosts.d/db.example/tcp"), "port: 5432\n");
    const { settings } = parseSyncSection({
      sites: { ref: `${HOST}:${srv.port}` },
      sync_ca: TLS + "ca.crt",
      sync_cert: TLS + "client.crt",
      sync_key: TLS + "client.key",
      directory: join(work, "sync"),
      sites_dir: join(work, "sites.d"),
    }, { root: work, stateDir: work });
    const store = new SqliteSyncStore(new DatabaseSync(":memory:"));
    const deps = { store, settings: settings!, log: memoryLogger(), clock: systemClock };
    const r = await pullSite(settings!.sites[0]!, deps);
    assert.deepEqual([r.safe, r.listed, r.ingested, r.rejected, r.push], [
      false,
      32,
      32,
      0,
      "pushed",
    ]);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(site))).filter((e) => e.isFile).map((e) => e.name),
      [],
    );
    const legacy = await store.modules("ref", "legacy");
    assert.deepEqual(legacy.map((m) => [m.module, m.data]), [["cpu", "42"]]);
    assert.equal((await store.modules("ref", "spool-node")).length, 2);
    assert.ok((await Deno.stat(join(site, "conf", BUNDLE_CONF))).isFile);
    assert.ok((await Deno.stat(join(site, "md5", BUNDLE_MD5))).isFile);
    // The reference serves RECV: the next session sees the pushed MD5 and pushes nothing.
    assert.equal((await pullSite(settings!.sites[0]!, deps)).push, "unchanged");
    await Deno.remove(work, { recursive: true }).catch(() => {});
  },
});
