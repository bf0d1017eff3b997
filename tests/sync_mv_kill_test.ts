// A central puller draining a site whose server deletes on MV before the client acknowledges
// (Pandora's own Perl `tentacle_server -I` when TENTACLE_REF_DIR names the reference scripts, else
// our server with the extensions off, which answers exactly as the reference does), SIGKILLed at
// random moments mid-drain and restarted: every complete file must be ingested exactly once, and
// at most the one file in flight may be lost per kill. Seeded (SYNC_KILL_SEED replays a run).
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { dataFile, result } from "../lib/sync/testing.ts";
import { siteDirs } from "../lib/sync/session.ts";
import {
  freePortOn,
  PullerProcess,
  rng,
  SiteServer,
  startPerlTentacleServer,
} from "./sync_util.ts";
import { writeTree } from "./util.ts";

const HOST = "127.0.20.3";
const FILES = Number(Deno.env.get("SYNC_KILL_FILES") ?? 2000);
const REF = Deno.env.get("TENTACLE_REF_DIR");
/** Pandora's reference server (plain TCP, -I: LS and MV), run as nobody when we are root. */
async function perlServer(dir: string, port: number) {
  const child = await startPerlTentacleServer(REF!, HOST, port, [
    ...["-a", HOST, "-p", String(port), "-s", dir, "-I", "-o"],
  ]);
  return {
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

Deno.test({
  name:
    `sync kill: ${FILES} files moved by MV (deleted before acknowledgement), puller SIGKILLed ` +
    `mid-drain: every complete file ingested once, at most one lost per kill (${
      REF ? "reference perl server" : "our server in reference mode"
    })`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seed = Number(Deno.env.get("SYNC_KILL_SEED") ?? (Date.now() % 2 ** 31));
    console.log(`sync kill test seed: ${seed} (replay with SYNC_KILL_SEED=${seed})`);
    const random = rng(seed);
    const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));
    const work = await Deno.makeTempDir({ prefix: "dmonitor-sync-kill-" });
    await Deno.chmod(work, 0o755); // the reference server runs as nobody when we are root
    const siteDir = join(work, "site");
    await Deno.mkdir(siteDir);
    await Deno.chmod(siteDir, 0o777);
    const t0 = Date.now() - 3_600_000;
    for (let i = 0; i < FILES; i++) {
      const agent = `node-${i % 7}`;
      const pad = i % 40 === 0 ? "x".repeat(300_000) : ""; // some kills land mid-body
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
        "  sync_timeout: 3",
        "  sync_retries: 1",
        "  backoff_base: 100ms",
        "  backoff_max: 300ms",
        "  interval: 200ms",
        "  batch: 64",
        "  unreachable_after: 1h",
        "",
      ].join("\n"),
      "nodes.txt": "",
    });
    const ours = REF
      ? null
      : new SiteServer(HOST, port, siteDir, { tls: false, extensions: false });
    const server = ours ?? (await perlServer(siteDir, port));
    if (ours) await ours.start();
    const puller = new PullerProcess(["--config", central]);
    const left = async () =>
      (await Array.fromAsync(Deno.readDir(siteDir))).filter((e) => e.name.endsWith(".data")).length;
    let kills = 0;
    const incoming = siteDirs(join(central, "state/sync"), "plant").incoming;
    try {
      puller.start();
      for (let round = 0; round < 25 && (await left()) > 0; round++) {
        // Wait until this run is draining (a session logged), then kill it at a random moment.
        const from = puller.from;
        const started = Date.now();
        while (
          !puller.lines.slice(from).some((l) => /sync puller started/.test(l)) &&
          Date.now() - started < 20_000
        ) await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, between(100, 500)));
        if ((await left()) === 0) break;
        await puller.kill();
        kills++;
        puller.start();
      }
      const deadline = Date.now() + 120_000;
      while ((await left()) > 0 || (await Array.fromAsync(Deno.readDir(incoming))).length > 0) {
        if (Date.now() > deadline) {
          throw new Error(
            `not drained: ${await left()} left; puller log:\n${puller.lines.slice(-20).join("\n")}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
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
      const values =
        (db.prepare(`SELECT at FROM sync_module_history WHERE module = 'w/seq'`).all() as {
          at: number;
        }[]).map((r) => r.at - t0);
      const lost = FILES - new Set(values).size;
      console.log(
        `sync kill: ${FILES} files, puller SIGKILLed ${kills}x, ingested ${ingested}, lost ${lost}`,
      );
      assert.ok(kills > 0, "the puller was killed mid-drain at least once");
      assert.equal(rejected ?? 0, 0, "no partial file ever taken for a file");
      assert.equal(hist, values.length);
      assert.equal(new Set(values).size, values.length, "no file ingested twice");
      assert.equal(seqs, ingested, "one history row per ingested file");
      assert.ok(lost <= kills, `lost ${lost} files in ${kills} kills (at most one per kill)`);
    } finally {
      db.close();
      await Deno.remove(work, { recursive: true }).catch(() => {});
      await Deno.remove(central, { recursive: true }).catch(() => {});
    }
  },
});
