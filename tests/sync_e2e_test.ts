// End to end on loopback: two isolated sites, each a Tentacle server process on its own 127.0.108.x
// with TLS and client certificates plus spooling nodes, and a central puller with a recording
// notifier. Site A's nodes send their spool with our Tentacle client; site B's node writes straight
// into its server's directory.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadNodeConfig, parseNodeConfig } from "../lib/node/load.ts";
import { memoryLogger } from "../lib/log/mod.ts";
import { type Spool, startSpool } from "../lib/spool/mod.ts";
import { openDatabase } from "../lib/store/mod.ts";
import { type RunningSync, startSyncPuller } from "../lib/sync/mod.ts";
import { configWith, notification, recordingNotifier, result, until } from "../lib/sync/testing.ts";
import { freePortOn, SiteServer, TLS } from "./sync_util.ts";
import { writeTree } from "./util.ts";

const A_HOST = "127.0.108.2";
const B_HOST = "127.0.108.3";

function siteNodeYaml(node: string, spool: Record<string, unknown>): string {
  const lines = [`node: ${node}`, "state_dir: state", "spool:"];
  for (const [k, v] of Object.entries(spool)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  return lines.join("\n") + "\n";
}

Deno.test({
  name:
    "sync e2e: two TLS sites, incidents notified once, site unreachable and recovery, config push",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "dmonitor-sync-e2e-" });
    await Deno.chmod(work, 0o755); // servers and nodes started as root switch to an unprivileged user
    const dirA = join(work, "site-a"), dirB = join(work, "site-b");
    await Deno.mkdir(dirA);
    await Deno.mkdir(dirB);
    const portA = freePortOn(A_HOST);
    const portB = freePortOn(B_HOST);
    const siteA = new SiteServer(A_HOST, portA, dirA);
    const siteB = new SiteServer(B_HOST, portB, dirB);
    const spools: Spool[] = [];
    let central: RunningSync | null = null;
    const db = openDatabase(join(work, "central.db"));
    const log = memoryLogger("info");
    const temps: string[] = [];
    try {
      await Promise.all([siteA.start(), siteB.start()]);
      // b1's spool (in this root process) writes into the server's directory, as a co-located
      // site node would; the server runs as dmonitor or nobody, so the files take its group.
      await Deno.chmod(dirB, 0o2775);

      // Site A: two nodes sending to their site's server over mutual TLS; a1 takes pushed configs.
      const reloads: string[] = [];
      const send = {
        send_to: `${A_HOST}:${portA}`,
        ssl_ca: TLS + "ca.crt",
        ssl_cert: TLS + "client.crt",
        ssl_key: TLS + "client.key",
      };
      const a1Root = await writeTree({
        "dmonitor.yaml": siteNodeYaml("a1", {
          ...send,
          directory: "out",
          site: "plant-a",
          write_interval: "1h",
          poll_interval: "200ms",
          receive_config: true,
        }),
        "nodes.txt": "",
      });
      const a2Root = await writeTree({
        "dmonitor.yaml": siteNodeYaml("a2", {
          ...send,
          directory: "out",
          site: "plant-a",
          write_interval: "1h",
          poll_interval: "200ms",
        }),
        "nodes.txt": "",
      });
      const b1Root = await writeTree({
        "dmonitor.yaml": siteNodeYaml("b1", {
          directory: dirB,
          site: "plant-b",
          write_interval: "1h",
        }),
        "nodes.txt": "",
      });
      const centralRoot = await Deno.makeTempDir({ prefix: "dmonitor-central-" });
      temps.push(a1Root, a2Root, b1Root, centralRoot);
      const parseTree = (files: Parameters<typeof parseNodeConfig>[0]) => parseNodeConfig(files);
      const nodeLog = memoryLogger("info");
      const a1 = (await startSpool(await loadNodeConfig(a1Root), {
        logger: nodeLog,
        parseTree,
        reload: () => reloads.push("a1"),
      }))!;
      const a2 = (await startSpool(await loadNodeConfig(a2Root), { logger: nodeLog }))!;
      const b1 = (await startSpool(await loadNodeConfig(b1Root), { logger: nodeLog }))!;
      spools.push(a1, a2, b1);

      // The central node: both sites, mutual TLS, a recording notifier.
      const notifier = recordingNotifier();
      central = (await startSyncPuller(
        configWith(centralRoot, {
          sync: {
            sites: { "plant-a": `${A_HOST}:${portA}`, "plant-b": `${B_HOST}:${portB}` },
            sync_ca: TLS + "ca.crt",
            sync_cert: TLS + "client.crt",
            sync_key: TLS + "client.key",
            sync_timeout: 1,
            sync_retries: 0,
            interval: "300ms",
            unreachable_after: "2s",
            parallel: 2,
            directory: join(work, "central-sync"),
          },
        }, "central"),
        { db, notifier, logger: log },
      ))!;
      const store = central.puller.store;
      const seen = (site: string, kind: string, test?: string) =>
        notifier.seen.filter((n) =>
          n.site === site && n.kind === kind && (test === undefined || n.test === test)
        );

      // Results from both sites reach the central store.
      a1.addResult(result({ host: "db.plant-a", test: "tcp", output: "connected" }));
      a2.addResult(result({ host: "db.plant-a", test: "tcp", output: "connected" }));
      b1.addResult(result({ host: "web.plant-b", test: "http" }));
      await Promise.all([a1.poll(), a2.poll(), b1.flush()]);
      await until(
        async () =>
          (await store.modules("plant-a")).filter((m) => m.module === "db.plant-a/tcp").length ===
            2,
        "site A's results",
      );
      await until(
        async () => (await store.modules("plant-b")).some((m) => m.module === "web.plant-b/http"),
        "site B's results",
      );

      // An outage at site A, as both of its nodes spool it (a hand-over) and a1 spools it again.
      const down = notification({
        id: "inc-a/down",
        incidentId: "inc-a",
        host: "db.plant-a",
        test: "tcp",
        notifier: "a1",
      });
      await a1.notify(down);
      await a2.notify({ ...down, notifier: "a2" });
      await Promise.all([a1.poll(), a2.poll()]);
      await a1.notify(down);
      await a1.poll();
      await until(() => seen("plant-a", "down").length > 0, "the down notice of site A");
      const drained = async () => {
        const left = (await Array.fromAsync(Deno.readDir(dirA))).filter((e) =>
          e.name.endsWith(".data")
        );
        return left.length === 0 && (await store.pendingNotifications()).length === 0;
      };
      await until(drained, "site A drained");
      const recovered = notification({
        id: "inc-a/recovered",
        incidentId: "inc-a",
        kind: "recovered",
        host: "db.plant-a",
        test: "tcp",
        endedAt: Date.now(),
      });
      await a2.notify(recovered);
      await a1.notify(recovered);
      await Promise.all([a1.poll(), a2.poll()]);
      await until(() => seen("plant-a", "recovered").length > 0, "the recovery of site A");
      await until(drained, "site A drained again");
      assert.deepEqual(seen("plant-a", "down").map((n) => n.id), ["site/plant-a/inc-a/down"]);
      assert.deepEqual(seen("plant-a", "recovered").map((n) => n.id), [
        "site/plant-a/inc-a/recovered",
      ]);
      assert.ok(["a1", "a2"].includes(seen("plant-a", "down")[0]!.notifier)); // whichever file came first

      // Config push: the central holds site A's checks; a1 fetches, validates and applies them.
      await Deno.mkdir(join(centralRoot, "sites.d/plant-a/hosts.d/127.0.108.1"), {
        recursive: true,
      });
      await Deno.writeTextFile(
        join(centralRoot, "sites.d/plant-a/hosts.d/127.0.108.1/tcp"),
        "port: 22\n",
      );
      await until(() => reloads.length > 0, "a1 applying the pushed configuration");
      assert.equal(await Deno.readTextFile(join(a1Root, "hosts.d/127.0.108.1/tcp")), "port: 22\n");
      assert.equal((await loadNodeConfig(a1Root)).tests.length, 1);
      assert.equal(a1.stats().configMd5 !== null, true);

      // Site B goes down: "site unreachable" once; site A keeps flowing meanwhile.
      await siteB.kill();
      const killedAt = Date.now();
      const aBefore = (await store.site("plant-a"))!.files;
      a1.addResult(
        result({ host: "db.plant-a", test: "tcp", output: "still fine", startedAt: Date.now() }),
      );
      await a1.poll();
      await until(
        async () => (await store.site("plant-a"))!.files > aBefore,
        "site A's new file while B is down",
      );
      assert.ok(
        Date.now() - killedAt < 2000,
        "site A's file arrived before B was even declared unreachable",
      );
      await until(() => seen("plant-b", "down", "sync").length > 0, "site B unreachable");
      const bDown = seen("plant-b", "down", "sync")[0]!;
      assert.equal(bDown.host, `${B_HOST}:${portB}`);
      assert.match(bDown.votes[0]!.output, /site not reached since/);
      // Several more failed pulls: still one incident.
      const errs = (await store.site("plant-b"))!.errors;
      await until(
        async () => (await store.site("plant-b"))!.errors >= errs + 3,
        "more failed pulls of B",
      );
      assert.equal(seen("plant-b", "down", "sync").length, 1);
      // Site B is back, with what its node spooled meanwhile.
      b1.addResult(
        result({
          host: "web.plant-b",
          test: "http",
          status: "FAIL",
          output: "HTTP 503",
          startedAt: Date.now(),
        }),
      );
      await b1.flush();
      await siteB.start();
      await until(() => seen("plant-b", "recovered", "sync").length > 0, "site B recovery");
      await until(
        async () => (await store.modules("plant-b")).some((m) => m.data === "0"),
        "site B's spooled result",
      );
      await new Promise((r) => setTimeout(r, 700)); // two more pull intervals
      assert.equal(seen("plant-b", "down", "sync").length, 1);
      assert.equal(seen("plant-b", "recovered", "sync").length, 1);
      assert.equal(seen("plant-b", "recovered", "sync")[0]!.incidentId, bDown.incidentId);
      // Per-site status for the status page.
      await central.puller.refreshViews();
      const views = central.sites();
      assert.deepEqual(views.map((v) => v.name), ["plant-a", "plant-b"]);
      assert.ok(views.every((v) => v.lastPull !== null && v.lagMs !== null && v.files > 0));
      assert.ok(views[1]!.errors >= 3 && views[1]!.lastError !== null);
      // Nothing else was ever notified.
      assert.equal(notifier.seen.length, 4, notifier.seen.map((n) => n.id).join("\n"));
    } finally {
      await central?.close();
      for (const s of spools) await s.close();
      await siteA.kill();
      await siteB.kill();
      db.close();
      for (const d of [work, ...temps]) await Deno.remove(d, { recursive: true }).catch(() => {});
    }
  },
});
