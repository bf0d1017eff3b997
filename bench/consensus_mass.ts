/**
 * Mass failure on a real 3-node cluster, and time to DOWN on a healthy one.
 *
 * Three real `dmonitor run` processes, N tcp checks each against one TCP service reachable on N
 * loopback addresses; the service stops (every check fails at once), then starts again. Printed per
 * N: notices, duplicates, time of the last down notice in intervals, batch requests between peers
 * per failed check, the worst /healthz latency during the outage, RSS before / peak / after
 * recovery, with ratios against the N=100 run of the same invocation. Then, with one check at a
 * 2 s interval, the time from the outage to the DOWN notice in intervals.
 *
 * Needs root: it runs itself inside a network namespace it creates (`dmc-bench-<pid>`, deleted at
 * the end), where all of 127.0.0.0/8 is its own.
 *
 *   deno run -A bench/consensus_mass.ts [N ...]        (default 100 1000 3000)
 */
import { callPeer, importPeerKey } from "../lib/peers/mod.ts";
import { NodeProcess, writeTree } from "../tests/util.ts";

const KEY = "consensus-bench-key-0123456789abcdef0123";
const NS = Deno.env.get("DMC_BENCH_NS");

function receiver() {
  const got: {
    kind: string;
    host: string;
    test: string;
    id: string;
    notifier: string;
    at: number;
  }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const n = await req.json();
    got.push({
      kind: n.kind,
      host: n.host,
      test: n.test,
      id: n.id,
      notifier: n.notifier,
      at: Date.now(),
    });
    return new Response("ok");
  });
  return { got, url: `http://127.0.0.1:${server.addr.port}/hook`, close: () => server.shutdown() };
}

/** A TCP service on every address of the namespace (0.0.0.0), stopped and started on demand. */
class Service {
  #l: Deno.Listener | null = null;
  start() {
    this.#l = Deno.listen({ hostname: "0.0.0.0", port: 7 });
    const l = this.#l;
    (async () => {
      for await (const c of l) c.close();
    })().catch(() => {});
  }
  stop() {
    this.#l?.close();
    this.#l = null;
  }
}

const target = (i: number) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const nodeAddr = (i: number) => `127.0.0.${i + 2}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+)/);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function startCluster(n: number, intervalS: number, hook: string) {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`hosts.d/${target(i)}/tcp`] = "port: 7\n";
  const all = [0, 1, 2].map((i) => `${nodeAddr(i)}:2929 n${i + 1}`).join("\n") + "\n";
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const state = await Deno.makeTempDir({ prefix: "dmonitor-bench-" });
    const tree = await writeTree({
      "dmonitor.yaml": `node: n${i + 1}\nlisten: ${nodeAddr(i)}:2929\nstate_dir: ${state}\n` +
        `interval: ${intervalS}s\ntimeout: 2s\nquorum: 2\nconcurrency: 64\n`,
      "nodes.txt": all,
      "peer.key": KEY,
      "alert.d/bench.webhook": hook + "\n",
      ...files,
    });
    nodes.push(new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" }));
  }
  await Promise.all(nodes.map((p) => p.waitFor(/node started/, 60_000)));
  return nodes;
}

/** Batch requests each node sent to its peers, summed over the cluster (from GET /v1/state). */
async function peerRequests(): Promise<number> {
  const cryptoKey = await importPeerKey(KEY);
  let total = 0;
  for (let i = 0; i < 3; i++) {
    const { json } = await callPeer(
      { host: nodeAddr(i), port: 2929, raw: `n${i + 1}`, name: `n${i + 1}` },
      "GET",
      "/v1/state",
      undefined,
      {
        key: cryptoKey,
        cryptoKey,
        nodeName: `n${((i + 1) % 3) + 1}`,
        deadlineMs: 10_000,
        maxReplyBytes: 256 * 1024 * 1024,
      },
    );
    const req =
      (json as { state: { requests: Record<string, Record<string, { requests: number }>> } })
        .state.requests;
    for (const byKind of Object.values(req)) {
      for (const k of Object.values(byKind)) total += k.requests;
    }
  }
  return total;
}

interface Row {
  n: number;
  notices: number;
  duplicates: number;
  /** Of the duplicates, those re-sent under the same notification id (delivery at least once). */
  sameId: number;
  /** Notices by notifying node. */
  byNode: Record<string, number>;
  lastIntervals: number;
  reqPerCheck: number;
  healthzMaxMs: number;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  recovered: number;
}

async function massRun(n: number): Promise<Row> {
  const intervalS = 10;
  const service = new Service();
  service.start();
  const hook = receiver();
  const nodes = await startCluster(n, intervalS, hook.url);
  try {
    // Let every check run once and pass.
    await sleep(intervalS * 1000 + 3000);
    const pids = nodes.map((p) => p.pid);
    const rssBefore = Math.max(...pids.map(rssKb));
    const req0 = await peerRequests();
    let rssPeak = rssBefore, healthzMaxMs = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          try {
            const r = await fetch(`http://${nodeAddr(i)}:2929/healthz`);
            await r.text();
            healthzMaxMs = Math.max(healthzMaxMs, performance.now() - t0);
          } catch { /* counted as nothing: the node is measured by its notices */ }
        }
        rssPeak = Math.max(rssPeak, ...pids.map(rssKb));
        await sleep(100);
      }
    })();
    const outage = Date.now();
    service.stop();
    const downs = () => hook.got.filter((x) => x.kind === "down");
    const end = outage + Math.max(120_000, n * 60);
    while (new Set(downs().map((d) => d.host)).size < n && Date.now() < end) await sleep(250);
    await sleep(8000); // any duplicate would show within a hand-over delay
    const d = downs();
    const hosts = new Set(d.map((x) => x.host));
    const lastAt = Math.max(...d.map((x) => x.at));
    const req1 = await peerRequests();
    service.start();
    const recs = () => hook.got.filter((x) => x.kind === "recovered");
    const end2 = Date.now() + Math.max(120_000, n * 60);
    while (recs().length < hosts.size && Date.now() < end2) await sleep(250);
    polling = false;
    await poller;
    // Give the runtime time to return what the incidents used.
    await sleep(15_000);
    const rssAfter = Math.max(...pids.map(rssKb));
    return {
      n,
      notices: d.length,
      duplicates: d.length - hosts.size,
      sameId: d.length - new Set(d.map((x) => x.id)).size,
      byNode: d.reduce<Record<string, number>>((m, x) => {
        m[x.notifier] = (m[x.notifier] ?? 0) + 1;
        return m;
      }, {}),
      lastIntervals: (lastAt - outage) / (intervalS * 1000),
      reqPerCheck: (req1 - req0) / n,
      healthzMaxMs,
      rssBefore: rssBefore / 1024,
      rssPeak: rssPeak / 1024,
      rssAfter: rssAfter / 1024,
      recovered: recs().length,
    };
  } finally {
    await Promise.all(nodes.map((p) => p[Symbol.asyncDispose]()));
    service.stop();
    await hook.close();
  }
}

async function latencyRun(outages: number): Promise<number[]> {
  const intervalS = 2;
  const service = new Service();
  service.start();
  const hook = receiver();
  const nodes = await startCluster(1, intervalS, hook.url);
  const out: number[] = [];
  try {
    await sleep(intervalS * 1000 + 2000);
    for (let k = 0; k < outages; k++) {
      const before = hook.got.length;
      const t0 = Date.now();
      service.stop();
      while (!hook.got.slice(before).some((x) => x.kind === "down")) await sleep(20);
      out.push(
        (hook.got.slice(before).find((x) => x.kind === "down")!.at - t0) / (intervalS * 1000),
      );
      service.start();
      const b2 = hook.got.length;
      while (!hook.got.slice(b2).some((x) => x.kind === "recovered")) await sleep(50);
      // Stop at a random moment within the interval next time.
      await sleep(1000 + Math.random() * intervalS * 1000);
    }
  } finally {
    await Promise.all(nodes.map((p) => p[Symbol.asyncDispose]()));
    service.stop();
    await hook.close();
  }
  return out;
}

async function main() {
  const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [100, 1000, 3000];
  const rows: Row[] = [];
  for (const n of sizes) {
    const r = await massRun(n);
    rows.push(r);
    console.log(JSON.stringify(r));
  }
  const base = rows[0]!;
  console.log(
    "\nN      notices dup last(int) req/check healthz_max_ms rss_before/peak/after_MB  (ratio vs N=" +
      base.n + ": req/check, peak rss)",
  );
  for (const r of rows) {
    console.log(
      `${String(r.n).padEnd(6)} ${String(r.notices).padEnd(7)} ${String(r.duplicates).padEnd(3)} ` +
        `${r.lastIntervals.toFixed(2).padEnd(9)} ${r.reqPerCheck.toFixed(2).padEnd(9)} ` +
        `${r.healthzMaxMs.toFixed(0).padEnd(14)} ` +
        `${r.rssBefore.toFixed(0)}/${r.rssPeak.toFixed(0)}/${r.rssAfter.toFixed(0)}`.padEnd(24) +
        `  (${(r.reqPerCheck / base.reqPerCheck).toFixed(2)}x, ${
          (r.rssPeak / base.rssPeak).toFixed(2)
        }x)` +
        `  recovered ${r.recovered}`,
    );
  }
  const lat = (await latencyRun(Number(Deno.env.get("DMC_BENCH_OUTAGES") ?? 8))).sort((a, b) =>
    a - b
  );
  const med = lat[Math.floor(lat.length / 2)]!;
  console.log(
    `\nhealthy cluster, 2 s interval: DOWN after ${lat[0]!.toFixed(2)} / ${med.toFixed(2)} / ` +
      `${lat[lat.length - 1]!.toFixed(2)} intervals (min / median / max of ${lat.length})`,
  );
}

if (NS === undefined) {
  // Re-run inside a namespace of our own.
  const name = `dmc-bench-${Deno.pid}`;
  const ip = (...a: string[]) => new Deno.Command("ip", { args: a }).output();
  await ip("netns", "add", name);
  try {
    await ip("netns", "exec", name, "ip", "link", "set", "lo", "up");
    const r = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        name,
        Deno.execPath(),
        "run",
        "-A",
        import.meta.filename!,
        ...Deno.args,
      ],
      env: { DMC_BENCH_NS: name },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    Deno.exitCode = r.code;
  } finally {
    await ip("netns", "delete", name);
  }
} else {
  await main();
}
