// Exactly once under faults: a 5,000-file drain from a site's Tentacle server (its own process, TLS
// with client certificates, safe move) by the puller (its own process), while both are SIGKILLed at
// random moments and restarted. Every file must end up ingested exactly once, none half-ingested,
// none lost. Seeded: SYNC_FAULT_SEED=<n> replays a run; the seed is printed.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { dataFile, result } from "../lib/sync/testing.ts";
import { siteDirs } from "../lib/sync/session.ts";
import { freePortOn, PullerProcess, rng, SiteServer, TLS } from "./sync_util.ts";
import { writeTree } from "./util.ts";

const HOST = "127.0.109.2";
const FILES = Number(Deno.env.get("SYNC_FAULT_FILES") ?? 5000);
const AGENTS = 10;

Deno.test({
  name:
    `sync fault: ${FILES} files drained exactly once while puller and site server are SIGKILLed`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seed = Number(Deno.env.get("SYNC_FAULT_SEED") ?? (Date.now() % 2 ** 31));
    console.log(`sync fault test seed: ${seed} (replay with SYNC_FAULT_SEED=${seed})`);
    const random = rng(seed);
    const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));
    const work = await Deno.makeTempDir({ prefix: "dmonitor-sync-fault-" });
    await Deno.chmod(work, 0o755); // servers and nodes started as root switch to an unprivileged user
    const siteDir = join(work, "site");
    await Deno.mkdir(siteDir);
    // The site's spool: every file carries a unique sequence number; every 50th is ~200 KB so that
    // kills also land mid-body.
    // Recent times: module history older than history_retention (7 days) is pruned.
    const t0 = Date.now() - 3_600_000;
    for (let i = 0; i < FILES; i++) {
      const agent = `node-${i % AGENTS}`;
      const pad = i % 50 === 0 ? "x".repeat(200_000) : "";
      await Deno.writeTextFile(
        join(siteDir, `${agent}.${1_800_000_000 + i}.data`),
        dataFile(agent, t0 + i * 1000, [
          result({ host: "w", test: "seq", output: String(i) + pad, startedAt: t0 + i }),
        ]),
      );
    }
    const port = freePortOn(HOST);
    const central = await writeTree({
      "dmonitor.yaml": [
        "node: central",
        "state_dir: state",
        "sync:",
        `  sites: { plant: "${HOST}:${port}" }`,
        `  sync_ca: ${TLS}ca.crt`,
        `  sync_cert: ${TLS}client.crt`,
        `  sync_key: ${TLS}client.key`,
        "  sync_timeout: 2",
        "  sync_retries: 1",
        "  backoff_base: 100ms",
        "  backoff_max: 500ms",
        "  interval: 200ms",
        "  batch: 16",
        "  unreachable_after: 1h",
        "",
      ].join("\n"),
      "nodes.txt": "",
    });
    const server = new SiteServer(HOST, port, siteDir);
    const puller = new PullerProcess(["--config", central]);
    const left = async () =>
      (await Array.fromAsync(Deno.readDir(siteDir))).filter((e) => e.name.endsWith(".data")).length;
    const kills = { puller: 0, server: 0 };
    const started = Date.now();
    try {
      await server.start();
      puller.start();
      // Kill at random moments until the site is drained (or 40 rounds, then drain in peace).
      for (let round = 0; round < 40 && (await left()) > 0; round++) {
        await new Promise((r) => setTimeout(r, between(100, 800)));
        const what = random();
        if (what < 0.45 || what >= 0.8) {
          await puller.kill();
          kills.puller++;
        }
        if (what >= 0.45) {
          await server.kill();
          kills.server++;
        }
        await new Promise((r) => setTimeout(r, between(0, 300)));
        if (!server.pid) await server.start();
        if (!puller.running) puller.start();
      }
      const incoming = siteDirs(join(central, "state/sync"), "plant").incoming;
      const deadline = Date.now() + 90_000;
      while ((await left()) > 0 || (await Array.fromAsync(Deno.readDir(incoming))).length > 0) {
        if (puller.exited) throw new Error(`puller exited while draining:\n${puller.tail()}`);
        if (Date.now() > deadline) {
          throw new Error(`not drained: ${await left()} left; puller log:\n${puller.tail()}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      // SIGTERM is handled once the process is up (it may have been restarted a moment ago).
      await puller.waitFor(/sync puller started/, Math.max(1000, deadline - Date.now()));
      const stopped = await puller.kill("SIGTERM");
      assert.equal(
        stopped?.code,
        0,
        `clean stop on SIGTERM:\n${puller.lines.slice(-10).join("\n")}`,
      );
      assert.ok(puller.lines.some((l) => /INFO dmonitor sync stopped/.test(l)));
    } finally {
      await puller.kill();
      await server.kill();
    }
    const db = new DatabaseSync(join(central, "state/state.db"));
    try {
      const one = (sql: string) => Object.values(db.prepare(sql).get() as Record<string, number>);
      const [ingested, rejected] = one(
        `SELECT SUM(status = 'ingested'), SUM(status = 'rejected') FROM sync_files WHERE site = 'plant'`,
      );
      const [hist, seqs] = one(
        `SELECT COUNT(*), COUNT(DISTINCT file) FROM sync_module_history WHERE site = 'plant' AND module = 'w/seq'`,
      );
      const [dups, files] = one(`SELECT duplicates, files FROM sync_sites WHERE site = 'plant'`);
      console.log(
        `sync fault: ${FILES} files in ${
          ((Date.now() - started) / 1000).toFixed(1)
        } s; killed the puller ${kills.puller}x ` +
          `and the site server ${kills.server}x; re-deliveries recognised: ${dups}`,
      );
      assert.equal(ingested, FILES, "every file ingested");
      assert.equal(rejected ?? 0, 0, "no partial file ever taken for a file");
      assert.equal(files, FILES);
      assert.equal(hist, FILES, "exactly one history row per file");
      assert.equal(seqs, FILES, "from as many distinct files");
      // The values themselves: 0..FILES-1, each once.
      const values =
        (db.prepare(`SELECT at FROM sync_module_history WHERE module = 'w/seq'`).all() as {
          at: number;
        }[])
          .map((r) => r.at - t0).sort((a, b) => a - b);
      assert.deepEqual(values, [...Array(FILES).keys()]);
      assert.ok(kills.puller + kills.server > 0);
    } finally {
      db.close();
      await Deno.remove(work, { recursive: true }).catch(() => {});
      await Deno.remove(central, { recursive: true }).catch(() => {});
    }
  },
});
