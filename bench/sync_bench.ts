/**
 * Sync benchmark, loopback only (site servers on 127.0.0.6, IP literals):
 *
 * 1. Drain throughput: files per second from a dmonitor site Tentacle server (its own process) into
 *    the central store — listed, moved (safe move: SMV batches with SHA-256 confirmation; or plain
 *    LS + MV as against a reference server), fsynced, renamed, ingested into SQLite, deleted.
 * 2. Lag: a site node writes a result into the site's spool at random moments; the central puller
 *    pulls every 10 s; the lag is ingestion time minus the time the site wrote the file.
 *
 *   deno run -A bench/sync_bench.ts [--files 5000] [--lag-seconds 120] [--interval 10s] [--json]
 *
 * With TENTACLE_REF_DIR (the Perl reference scripts), the drain from a reference
 * `tentacle_server -I` (LS + MV) is measured too, on 500 files.
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { memoryLogger } from "../lib/log/mod.ts";
import { openDatabase } from "../lib/store/mod.ts";
import { parseSpoolSection } from "../lib/spool/settings.ts";
import { SpoolWriter } from "../lib/spool/writer.ts";
import { systemClock } from "../lib/schedule/mod.ts";
import { parseSyncSection } from "../lib/sync/settings.ts";
import { SyncPuller } from "../lib/sync/puller.ts";
import { dataFile, recordingNotifier, result } from "../lib/sync/testing.ts";
import { freePortOn, SiteServer, TLS } from "../tests/sync_util.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "5000" },
    "lag-seconds": { type: "string", default: "120" },
    interval: { type: "string", default: "10s" },
    json: { type: "boolean", default: false },
  },
});
const FILES = Number(flags.files);
const LAG_S = Number(flags["lag-seconds"]);
const HOST = "127.0.0.6";
const REF = Deno.env.get("TENTACLE_REF_DIR");

function pullerFor(
  work: string,
  port: number,
  tls: boolean,
  section: Record<string, unknown> = {},
) {
  const { settings, problems } = parseSyncSection({
    sites: { site: `${HOST}:${port}` },
    directory: join(work, "sync"),
    sites_dir: join(work, "sites.d"),
    ...(tls
      ? { sync_ca: TLS + "ca.crt", sync_cert: TLS + "client.crt", sync_key: TLS + "client.key" }
      : {}),
    ...section,
  }, { root: work, stateDir: work });
  if (problems.length) throw new Error(JSON.stringify(problems));
  const db = openDatabase(join(work, "central.db"));
  const p = new SyncPuller(settings!, {
    db,
    notifier: recordingNotifier(),
    logger: memoryLogger("warn"),
  });
  return { p, db };
}

async function drain(
  mode: "safe-move" | "mv" | "reference-mv",
  tls: boolean,
  files = FILES,
): Promise<Record<string, unknown>> {
  const FILES = files;
  const work = await Deno.makeTempDir({ prefix: "dmonitor-sync-bench-" });
  await Deno.chmod(work, 0o755);
  const siteDir = join(work, "site");
  await Deno.mkdir(siteDir);
  const now = Date.now();
  let bytes = 0;
  for (let i = 0; i < FILES; i++) {
    const agent = `node-${i % 10}`;
    const text = dataFile(agent, now + i, [
      result({ host: "db.example", test: "tcp", startedAt: now + i }),
      result({
        host: "www.example",
        test: "http",
        output: `HTTP 200 OK in ${i} ms`,
        startedAt: now + i,
      }),
    ]);
    bytes += text.length;
    await Deno.writeTextFile(join(siteDir, `${agent}.${1_800_000_000 + i}.data`), text);
  }
  const port = freePortOn(HOST);
  const server = mode === "reference-mv"
    ? await referenceServer(siteDir, port)
    : new SiteServer(HOST, port, siteDir, { tls, extensions: mode === "safe-move" });
  await server.start();
  const { p, db } = pullerFor(work, port, tls);
  try {
    const t0 = performance.now();
    const [out] = await p.runOnce();
    const s = (performance.now() - t0) / 1000;
    if (!out!.ok || out!.result!.ingested !== FILES) {
      throw new Error(`drain failed: ${JSON.stringify(out)}`);
    }
    if (out!.result!.safe !== (mode === "safe-move")) throw new Error(`expected ${mode}`);
    return {
      phase: "drain",
      mode,
      tls,
      files: FILES,
      avgBytes: Math.round(bytes / FILES),
      seconds: +s.toFixed(2),
      filesPerSecond: Math.round(FILES / s),
    };
  } finally {
    await server.kill();
    db.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** Pandora's Perl tentacle_server -I (as nobody when root), when TENTACLE_REF_DIR is set. */
function referenceServer(dir: string, port: number) {
  let child: Deno.ChildProcess | null = null;
  const nobody = Deno.uid() === 0
    ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    : [];
  return {
    async start() {
      Deno.chmodSync(dir, 0o777);
      for (const e of Deno.readDirSync(dir)) Deno.chmodSync(join(dir, e.name), 0o666);
      const args = [
        `${REF}/tentacle_server`,
        "-a",
        HOST,
        "-p",
        String(port),
        "-s",
        dir,
        "-I",
        "-o",
      ];
      child = new Deno.Command(nobody[0] ?? "perl", {
        args: [...nobody.slice(1), ...(nobody.length ? ["perl"] : []), ...args],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      for (let i = 0; i < 200; i++) {
        const c = await Deno.connect({ hostname: HOST, port }).catch(() => null);
        if (c) return c.close();
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("reference server did not start");
    },
    async kill() {
      child?.kill("SIGINT");
      await child?.status;
    },
  };
}

async function lag(tls: boolean): Promise<Record<string, unknown>> {
  const work = await Deno.makeTempDir({ prefix: "dmonitor-sync-lag-" });
  const siteDir = join(work, "site");
  await Deno.mkdir(siteDir);
  const port = freePortOn(HOST);
  const server = new SiteServer(HOST, port, siteDir, { tls });
  await server.start();
  const { p, db } = pullerFor(work, port, tls, { interval: flags.interval });
  const { settings } = parseSpoolSection({ directory: siteDir, write_interval: "1h" }, {
    root: work,
    node: "site-node",
    stateDir: work,
  });
  const writer = new SpoolWriter({
    settings: settings!,
    version: "bench",
    clock: systemClock,
    log: memoryLogger("warn"),
  });
  await writer.init();
  const ctl = new AbortController();
  const running = p.run(ctl.signal);
  const end = Date.now() + LAG_S * 1000;
  let written = 0;
  try {
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 2500));
      writer.addResult(result({ startedAt: Date.now() }));
      await writer.flush();
      written++;
    }
    // Let the last ones arrive.
    const q = new DatabaseSync(join(work, "central.db"));
    const deadline = Date.now() + 30_000;
    while (
      (q.prepare("SELECT COUNT(*) AS n FROM sync_files").get() as { n: number }).n < written &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const lags = (q.prepare("SELECT ingested_at - written_at AS lag FROM sync_files").all() as {
      lag: number;
    }[])
      .map((r) => r.lag).sort((a, b) => a - b);
    q.close();
    const pct = (x: number) => lags[Math.min(lags.length - 1, Math.floor(x * lags.length))]!;
    return {
      phase: "lag",
      tls,
      interval: flags.interval,
      results: written,
      ingested: lags.length,
      minS: +(lags[0]! / 1000).toFixed(2),
      medianS: +(pct(0.5) / 1000).toFixed(2),
      p95S: +(pct(0.95) / 1000).toFixed(2),
      maxS: +(lags[lags.length - 1]! / 1000).toFixed(2),
      meanS: +(lags.reduce((a, b) => a + b, 0) / lags.length / 1000).toFixed(2),
    };
  } finally {
    ctl.abort();
    await running;
    await server.kill();
    db.close();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

const rows: Record<string, unknown>[] = [];
for (const [mode, tls] of [["safe-move", true], ["safe-move", false], ["mv", false]] as const) {
  rows.push(await drain(mode, tls));
  if (!flags.json) console.log(JSON.stringify(rows.at(-1)));
}
if (REF) {
  // The reference MV costs ~44 ms a file (docs): 500 files are enough to measure it.
  rows.push(await drain("reference-mv", false, Math.min(FILES, 500)));
  if (!flags.json) console.log(JSON.stringify(rows.at(-1)));
}
if (LAG_S > 0) {
  rows.push(await lag(true));
  if (!flags.json) console.log(JSON.stringify(rows.at(-1)));
}
if (flags.json) console.log(JSON.stringify(rows, null, 2));
