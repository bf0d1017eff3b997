/**
 * Mass failure on a real 3-node cluster, and time to DOWN on a healthy one.
 *
 * Three real `dmonitor run` processes, N tcp checks each against one TCP service reachable on N
 * loopback addresses; the service stops (every check fails at once), then starts again. Printed per
 * N: notices, duplicates, time of the last down notice in intervals, batch requests between peers
 * per failed check, /healthz latency (p50 / p99 / worst, timed by healthz_probe.ts, a process of
 * its own, from the outage until RSS is taken after recovery), RSS (steady: the largest node's,
 * averaged over one interval) before / peak / after
 * recovery, with ratios against the N=100 run of the same invocation. Then, with one check at a
 * 2 s interval, the time from the outage to the DOWN notice and from the end to the RECOVERED
 * notice, in intervals: on a healthy cluster, with n3 partitioned from the others, and with 500 ms
 * added each way between peers (userspace links, `link()`: this kernel has no netem).
 *
 * Needs root: it runs itself inside a network namespace it creates (`dmc-bench-<pid>`, deleted at
 * the end), where all of 127.0.0.0/8 is its own.
 *
 *   deno run -A bench/consensus_mass.ts [N ...]        (default 100 1000 3000; `0`: latency only)
 *
 * Environment: DMC_BENCH_OUTAGES (latency outages per case, default 8), DMC_BENCH_INTERVAL (the
 * latency runs' check interval in seconds, default 2), DMC_BENCH_CASES (latency
 * cases to run, e.g. `1,2`), DMC_BENCH_LOGS (a directory: each node's log per latency case).
 * DMC_BENCH_LATENCY=0: the mass runs only (run N = 10,000 as an invocation of its own: ~8 min);
 * DMC_BENCH_V8=FLAGS: V8 flags added to the release ones (comma-separated, for experiments).
 * DMC_BENCH_PROF=DIR: each node writes a V8 CPU profile into DIR (world-writable: the nodes drop
 * root) when it stops. RSS after recovery is taken once every node has logged that it gave the
 * outage's memory back (the engine forgets closed incidents after stuckMs + 2 intervals).
 * DMC_BENCH_HEAP=DIR: the nodes run with the V8 inspector on, and each writes a heap snapshot into
 * DIR when steady RSS has been taken before the outage and after recovery (nN-N-before/after;
 * compare with `bench/heap_snapshot.ts BEFORE AFTER`). The inspector costs memory of its own.
 * DMC_BENCH_CONTROL=SECONDS: first the same cluster without an outage for SECONDS (about what an
 * outage run takes, 100-120 at 3,000), printing the steady RSS before and after: the drift an
 * "after recovery" figure is to be read against. DMC_BENCH_SETTLE=SECONDS: after RSS after
 * recovery, the same figure again every three intervals for SECONDS (does it still move?).
 * DMC_BENCH_WARMUP=1: the bench's GET /v1/state and /metrics made once before RSS before is taken.
 * DMC_BENCH_SMAPS=DIR: each node's /proc/PID/smaps copied where its RSS parts are taken (compare
 * two with a diff of the mappings). DMC_BENCH_NODE_ENV=K=V,...: more environment for the nodes.
 * DMC_BENCH_STDOUT=DIR: each node's stdout goes to DIR/nN-N.out (with DMC_BENCH_V8=--trace-gc:
 * V8's account of each GC).
 * With either DMC_BENCH_HEAP or DMC_BENCH_SETTLE, the /healthz probe still runs through the
 * snapshots (which stall the nodes) or the quiet settle: its figures are not the outage's then.
 */
import { callPeer, importPeerKey } from "../lib/peers/mod.ts";
import { NodeProcess, writeTree } from "../tests/util.ts";
import { takeHeapSnapshot } from "./heap_snapshot.ts";

const KEY = "consensus-bench-key-0123456789abcdef0123";
/** The check interval of the latency runs (DMC_BENCH_INTERVAL, seconds; default 2). */
const LATENCY_INTERVAL_S = Number(Deno.env.get("DMC_BENCH_INTERVAL") ?? 2);
const NS = Deno.env.get("DMC_BENCH_NS");
const PROF = Deno.env.get("DMC_BENCH_PROF");
const HEAP = Deno.env.get("DMC_BENCH_HEAP");
/** DMC_BENCH_STDOUT=DIR: each node's stdout (V8's `--trace-gc` and the like) is kept there. */
const STDOUT = Deno.env.get("DMC_BENCH_STDOUT");
/** DMC_BENCH_SMAPS=DIR: each node's /proc/PID/smaps is copied there wherever RSS parts are taken. */
const SMAPS = Deno.env.get("DMC_BENCH_SMAPS");
/** DMC_BENCH_NODE_ENV=K=V,...: more environment for the nodes (experiments: GLIBC_TUNABLES). */
const NODE_ENV: Record<string, string> = Object.fromEntries(
  (Deno.env.get("DMC_BENCH_NODE_ENV") ?? "").split(",").filter((kv) => kv.includes("="))
    .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
);
/** DMC_BENCH_WARMUP=1: the bench's own requests are made once before "before" is taken. */
const WARMUP = Deno.env.get("DMC_BENCH_WARMUP") === "1";
/** DMC_BENCH_CONTROL=SECONDS: before the outage, the same wait without one (RSS drift). */
const CONTROL_S = Number(Deno.env.get("DMC_BENCH_CONTROL") ?? 0);
/** DMC_BENCH_SETTLE=SECONDS: RSS after recovery taken again every three intervals that long. */
const SETTLE_S = Number(Deno.env.get("DMC_BENCH_SETTLE") ?? 0);
/** Node i's inspector (DMC_BENCH_HEAP). */
const inspectorOf = (i: number) => `${nodeAddr(i)}:9229`;

/** DMC_BENCH_HEAP: a heap snapshot of every node, named by N and `when`. */
async function heapSnapshots(n: number, when: string): Promise<void> {
  if (HEAP === undefined) return;
  for (const i of [0, 1, 2]) {
    const file = `${HEAP}/n${i + 1}-${n}-${when}.heapsnapshot`;
    await takeHeapSnapshot(inspectorOf(i), file);
    console.log(`heap snapshot ${file}`);
  }
}
/** The nodes run with the V8 flags a release runs with (packaging/v8-flags.txt). */
const RELEASE_V8_FLAGS = "--v8-flags=" +
  Deno.readTextFileSync(new URL("../packaging/v8-flags.txt", import.meta.url))
    .split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"))
    // DMC_BENCH_V8: more V8 flags for the nodes (comma-separated), for experiments.
    .concat(Deno.env.get("DMC_BENCH_V8")?.split(",").filter((f) => f !== "") ?? []).join(",");

/** Stops the nodes; with profiling, by SIGTERM first so each writes its profile. */
async function stopAll(nodes: NodeProcess[]) {
  if (PROF !== undefined) {
    for (const p of nodes) p.kill("SIGTERM");
    const st = await Promise.race([Promise.all(nodes.map((p) => p.status)), sleep(30_000)]);
    if (!st) console.error("profiled nodes did not stop within 30 s: no profile");
  }
  await Promise.all(nodes.map((p) => p[Symbol.asyncDispose]()));
}

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
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Resident KiB of a process by kind of mapping, from /proc/PID/smaps: glibc's main heap
 * ([heap]), other anonymous memory (V8's heap pages, thread arenas, stacks) and file pages. */
function rssParts(pid: number, when = ""): string {
  if (SMAPS !== undefined && when !== "") {
    // DMC_BENCH_SMAPS: the whole map, to tell which mappings grew.
    try {
      Deno.copyFileSync(`/proc/${pid}/smaps`, `${SMAPS}/${pid}-${when}.smaps`);
    } catch { /* gone */ }
  }
  const parts = { heap: 0, anon: 0, file: 0 };
  let kind: keyof typeof parts = "anon";
  try {
    for (const l of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
      const m = l.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/);
      if (m) kind = m[1] === "[heap]" ? "heap" : m[1]!.startsWith("/") ? "file" : "anon";
      else if (l.startsWith("Rss:")) parts[kind] += Number(l.split(/\s+/)[1]);
    }
  } catch {
    return "?";
  }
  const f = (k: number) => (k / 1024).toFixed(0);
  return `glibc heap ${f(parts.heap)} + anon ${f(parts.anon)} + file ${f(parts.file)} MiB`;
}

function rssKb(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+)/);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * A userspace link between node `from` and peer `to` (this kernel has no netem): listens on its own
 * address, forwards to the peer with `delayMs` added to every chunk in each direction, or, when
 * `cut`, accepts and never answers (a partition: the asker runs into its deadlines).
 */
function link(from: number, to: number, delayMs: number, cut: boolean) {
  const addr = `127.0.2.${from * 10 + to + 1}`;
  const listener = Deno.listen({ hostname: addr, port: 2929 });
  const held: Deno.Conn[] = [];
  const pipe = async (src: Deno.Conn, dst: Deno.Conn) => {
    const w = dst.writable.getWriter();
    let chain = Promise.resolve();
    try {
      for await (const chunk of src.readable) {
        const due = Date.now() + delayMs;
        chain = chain.then(async () => {
          await sleep(due - Date.now());
          await w.write(chunk);
        }).catch(() => {/* the other side closed */});
      }
      await chain;
      await w.close();
    } catch { /* either side went away */ }
  };
  (async () => {
    for await (const c of listener) {
      if (cut) {
        held.push(c);
        continue;
      }
      Deno.connect({ hostname: nodeAddr(to), port: 2929 }).then((up) => {
        pipe(c, up);
        pipe(up, c);
      }, () => c.close());
    }
  })().catch(() => {});
  return {
    addr,
    close() {
      listener.close();
      for (const c of held) c.close();
    },
  };
}

type Impair = { delayMs: number; cut: (from: number, to: number) => boolean } | null;

async function startCluster(n: number, intervalS: number, hook: string, impair: Impair = null) {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`hosts.d/${target(i)}/tcp`] = "port: 7\n";
  // Without impairment every node lists the others directly; with it, through its own links.
  const nodesTxt = (self: number) =>
    [0, 1, 2].filter((j) => impair === null || j !== self).map((j) => {
      if (impair === null) return `${nodeAddr(j)}:2929 n${j + 1}`;
      const l = link(self, j, impair.delayMs, impair.cut(self, j) || impair.cut(j, self));
      openLinks.push(l);
      return `${l.addr}:2929 n${j + 1}`;
    }).join("\n") + "\n";
  const nodes: NodeProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const state = await Deno.makeTempDir({ prefix: "dmonitor-bench-" });
    const tree = await writeTree({
      "dmonitor.yaml": `node: n${i + 1}\nlisten: ${nodeAddr(i)}:2929\nstate_dir: ${state}\n` +
        `interval: ${intervalS}s\ntimeout: 2s\nquorum: 2\nconcurrency: 64\n`,
      "nodes.txt": nodesTxt(i),
      "peer.key": KEY,
      "alert.d/bench.webhook": hook + "\n",
      ...files,
    });
    const logs = Deno.env.get("DMC_BENCH_LOGS") !== undefined;
    // DMC_BENCH_PROF=DIR: each node writes a V8 CPU profile there when it stops (SIGTERM).
    const denoFlags = [
      RELEASE_V8_FLAGS,
      ...(PROF === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${PROF}`, `--cpu-prof-name=n${i + 1}-${n}.cpuprofile`]),
      ...(HEAP === undefined ? [] : [`--inspect=${inspectorOf(i)}`]),
    ];
    nodes.push(
      new NodeProcess(
        ["--config", tree],
        {
          ...(logs
            ? { DMONITOR_LOG_LEVEL: "debug", DMONITOR_LOG_TIME: "1" }
            : { DMONITOR_LOG_LEVEL: "info" }),
          ...NODE_ENV,
        },
        {
          denoFlags,
          stdoutFile: STDOUT && `${STDOUT}/n${i + 1}-${n}.out`,
        },
      ),
    );
  }
  await Promise.all(nodes.map((p) => p.waitFor(/node started/, 60_000)));
  return nodes;
}

/** The largest node's `Deno.memoryUsage()` in MB, from the last `peerRequests()`. */
let lastMemory: Record<string, number> = {};

/** Batch requests each node sent to its peers, summed over the cluster (from GET /v1/state). */
async function peerRequests(): Promise<number> {
  const cryptoKey = await importPeerKey(KEY);
  let total = 0;
  lastMemory = {};
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
    const state = (json as {
      state: {
        requests: Record<string, Record<string, { requests: number }>>;
        memory?: Record<string, number>;
      };
    }).state;
    const req = state.requests;
    for (const [k, v] of Object.entries(state.memory ?? {})) {
      lastMemory[k] = Math.max(lastMemory[k] ?? 0, v / 1024 / 1024);
    }
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
  healthzByNode: string[];
  /** The worst /healthz outside the bench's own GET /v1/state calls. */
  healthzOutsideStateMs: number;
  /** Per node, from its event-loop timer: stalls over 50 ms (own work), worst, CPU wait. */
  loop: string[];
  /** Outside those calls: p50, p99, samples over 50 ms; and when the last recovery came. */
  healthz: {
    samples: number;
    errors: number;
    p50: number;
    p99: number;
    over50: number;
    recoveryEndS: number;
  };
  /** The five worst samples: node@seconds after the outage:ms (* during a /v1/state call). */
  healthzWorst: string;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  recovered: number;
  /** JS heap used / total and external memory before the outage / after recovery (MB, the
   * largest node's, from GET /v1/state). */
  heap: string;
}

const mb = (x: number | undefined) => x === undefined ? "?" : x.toFixed(0);

async function massRun(n: number): Promise<Row> {
  const intervalS = 10;
  const service = new Service();
  service.start();
  const hook = receiver();
  const nodes = await startCluster(n, intervalS, hook.url);
  try {
    // Let every check run and pass for three intervals: a node's RSS settles over its first
    // intervals (after the GC and trim 3 s after start), and "before" is its steady level.
    await sleep(3 * intervalS * 1000 + 3000);
    // Steady RSS: the largest node's, averaged over one more interval of samples (a single
    // reading swung by 10-30 MB between runs: GC timing), the same way before and after.
    const steadyRss = async () => {
      const xs: number[] = [];
      for (let t = 0; t < intervalS * 1000; t += 500) {
        xs.push(Math.max(...pids.map(rssKb)));
        await sleep(500);
      }
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const pids = nodes.map((p) => p.pid);
    // DMC_BENCH_WARMUP=1: the bench's own requests (GET /v1/state, a dump of every check and
    // incident, and a /metrics scrape) made once before the first steady RSS, so that "before"
    // follows them as "after" does. Off by default: "before" is then the node's own, the stricter
    // baseline (the dump's garbage raised it by ~15 MB, 95 -> 112, in a run of 3,000).
    if (WARMUP) {
      pids.forEach((pid) => rssParts(pid, "cold"));
      await peerRequests();
      await Promise.all([0, 1, 2].map(loopFigures));
    }
    if (CONTROL_S > 0) {
      // The control: the same cluster without an outage, for as long as an outage run takes,
      // so that RSS after recovery can be told from the nodes' own drift.
      const rss0 = await steadyRss();
      const parts0 = pids.map((pid) => rssParts(pid));
      await sleep(CONTROL_S * 1000);
      const rss1 = await steadyRss();
      console.log(
        `control (N=${n}, no outage): steady RSS ${(rss0 / 1024).toFixed(0)} -> ${
          (rss1 / 1024).toFixed(0)
        } MB over ${CONTROL_S + intervalS} s`,
      );
      for (const [i, pid] of pids.entries()) {
        console.log(`  n${i + 1} RSS ${parts0[i]} -> ${rssParts(pid)}`);
      }
    }
    const rssBefore = await steadyRss();
    const partsBefore = pids.map((pid) => rssParts(pid, "before"));
    await heapSnapshots(n, "before");
    const req0 = await peerRequests();
    const memBefore = lastMemory;
    let rssPeak = rssBefore;
    // /healthz is timed by a process of its own (healthz_probe.ts), from just before the outage
    // until RSS has been taken after recovery. Windows in which the bench's own GET /v1/state (a
    // debugging dump of every incident and check) was under way are kept to mark those samples.
    const stateWindows: [number, number][] = [];
    const inState = () => {
      const t0 = Date.now();
      return () => stateWindows.push([t0, Date.now()]);
    };
    let polling = true;
    let outage = Date.now();
    const loop0 = await Promise.all([0, 1, 2].map(loopFigures));
    const probe = healthzProbe([0, 1, 2].map((i) => `${nodeAddr(i)}:2929`));
    const poller = (async () => {
      while (polling) {
        rssPeak = Math.max(rssPeak, ...pids.map(rssKb));
        await sleep(100);
      }
    })();
    outage = Date.now();
    const logFrom = Math.min(...nodes.map((p) => p.lines.length));
    service.stop();
    const downs = () => hook.got.filter((x) => x.kind === "down");
    const end = outage + Math.max(120_000, n * 60);
    while (new Set(downs().map((d) => d.host)).size < n && Date.now() < end) await sleep(250);
    await sleep(8000); // any duplicate would show within a hand-over delay
    const d = downs();
    const hosts = new Set(d.map((x) => x.host));
    const lastAt = Math.max(...d.map((x) => x.at));
    const stateDone = inState();
    const req1 = await peerRequests();
    stateDone();
    service.start();
    const recs = () => hook.got.filter((x) => x.kind === "recovered");
    const end2 = Date.now() + Math.max(120_000, n * 60);
    while (recs().length < hosts.size && Date.now() < end2) await sleep(250);
    const recoveredAt = Date.now();
    // The nodes forget the closed incidents after stuckMs + 2 intervals (50 s here; swept every
    // 25 s) and then give the memory back: wait for that on every node (or for as long as it
    // may take).
    // A sweep may forget part of them (those closed earliest), the next the rest: wait until each
    // node has logged releases for all but a sweep's worth below the release threshold (100).
    const forgotten = (p: NodeProcess) =>
      p.lines.slice(logFrom).reduce(
        (sum, l) =>
          sum + Number(l.match(/memory returned after an outage forgotten=(\d+)/)?.[1] ?? 0),
        0,
      );
    // And at least until the last of them can have been forgotten (stuckMs + 2 intervals, and
    // the sweep after): below 100 states no release is logged, and "after" was once taken while
    // a 100-check outage's incidents were all still held.
    const forgetBy = Date.now() + 75_000;
    const releaseEnd = Date.now() + 150_000;
    while (
      (Date.now() < forgetBy || nodes.some((p) => forgotten(p) < n - 100)) &&
      Date.now() < releaseEnd
    ) await sleep(500);
    const rssAfter = await steadyRss();
    for (const [i, pid] of pids.entries()) {
      console.log(`n${i + 1} RSS before: ${partsBefore[i]}; after: ${rssParts(pid, "after")}`);
    }
    if (SETTLE_S > 0) {
      // DMC_BENCH_SETTLE: and again later, to see whether the level after recovery still moves.
      for (let t = 0; t < SETTLE_S; t += intervalS * 3) {
        await sleep(intervalS * 3 * 1000 - intervalS * 1000);
        const later = await steadyRss();
        console.log(
          `RSS after, ${Math.round((Date.now() - recoveredAt) / 1000)} s after recovery: ${
            (later / 1024).toFixed(0)
          } MB (${((later / rssBefore - 1) * 100).toFixed(1)}% over before)`,
        );
      }
      for (const [i, pid] of pids.entries()) console.log(`n${i + 1} RSS now: ${rssParts(pid)}`);
    }
    await heapSnapshots(n, "after");
    polling = false;
    await poller;
    // What each node said of its stalls and of giving memory back, in its own words.
    for (const [i, p] of nodes.entries()) {
      for (const l of p.lines.slice(logFrom)) {
        if (/event loop held up|memory returned/.test(l)) console.log(`n${i + 1}: ${l}`);
      }
    }
    const samples = (await probe.stop()).map((x) => ({
      ...x,
      t: x.at - outage,
      state: stateWindows.some(([a, b]) => x.at >= a && x.at - x.ms <= b),
    }));
    const ms = samples.filter((x) => !x.state).map((x) => x.ms).sort((a, b) => a - b);
    const q = (f: number) => quantile(ms, f);
    const loop1 = await Promise.all([0, 1, 2].map(loopFigures));
    const lastStateDone = inState();
    await peerRequests();
    lastStateDone();
    const memAfter = lastMemory;
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
      healthzMaxMs: Math.max(0, ...samples.map((x) => x.ms)),
      healthzOutsideStateMs: q(1),
      // Per node: n1 is usually the one that notifies.
      healthzByNode: [1, 2, 3].map((node) => {
        const v = samples.filter((x) => !x.state && x.node === node).map((x) => x.ms)
          .sort((a, b) => a - b);
        const at = (f: number) => quantile(v, f).toFixed(0);
        return `n${node}: ${at(0.5)}/${at(0.99)}/${at(1)} ms (${
          v.filter((x) => x > 50).length
        } of ${v.length} over 50)`;
      }),
      healthz: {
        samples: samples.length,
        errors: probe.errors,
        p50: q(0.5),
        p99: q(0.99),
        over50: ms.filter((x) => x > 50).length,
        recoveryEndS: (recoveredAt - outage) / 1000,
      },
      // Each node's event-loop timer (GET /metrics) over the same span: ticks over 50 ms late,
      // all told and of the node's own work (the rest is waiting for a CPU), and its worst ticks.
      // The worst-tick gauges count from the node's start: a figure the span did not raise is
      // only an upper bound for it ("<=").
      loop: loop1.map((b, i) => {
        const a = loop0[i]!;
        const worst = (x: number, y: number) => `${y > x ? "" : "<="}${y.toFixed(0)}`;
        return `n${i + 1}: >50ms ${b.late - a.late} (own ${b.lateOwn - a.lateOwn}), worst ${
          worst(a.worst, b.worst)
        } (own ${worst(a.worstOwn, b.worstOwn)}) ms, cpu wait ${
          (b.cpuWait - a.cpuWait).toFixed(1)
        } s`;
      }),
      healthzWorst: samples.sort((a, b) => b.ms - a.ms).slice(0, 8)
        .map((x) =>
          `n${x.node}@${(x.t / 1000).toFixed(1)}s:${x.ms.toFixed(0)}${x.state ? "*" : ""}`
        )
        .join(" "),
      rssBefore: rssBefore / 1024,
      rssPeak: rssPeak / 1024,
      rssAfter: rssAfter / 1024,
      recovered: recs().length,
      heap: `${mb(memBefore.heapUsed)}/${mb(memAfter.heapUsed)} of ${mb(memBefore.heapTotal)}/${
        mb(memAfter.heapTotal)
      }, external ${mb(memBefore.external)}/${mb(memAfter.external)}`,
    };
  } finally {
    await stopAll(nodes);
    service.stop();
    await hook.close();
  }
}

/** Node `i`'s event-loop figures from its /metrics (lib/node/loop.ts). */
async function loopFigures(i: number) {
  const text = await (await fetch(`http://${nodeAddr(i)}:2929/metrics`)).text();
  const get = (re: RegExp) => Number(text.match(re)?.[1] ?? NaN);
  return {
    late: get(/^dmonitor_event_loop_late_ticks_total\{over="0.05",cause="total"\} (\S+)$/m),
    lateOwn: get(/^dmonitor_event_loop_late_ticks_total\{over="0.05",cause="own"\} (\S+)$/m),
    worst: 1000 * get(/^dmonitor_event_loop_lag_worst_seconds\{part="total"\} (\S+)$/m),
    worstOwn: 1000 * get(/^dmonitor_event_loop_lag_worst_seconds\{part="own"\} (\S+)$/m),
    cpuWait: get(/^dmonitor_event_loop_cpu_wait_seconds_total (\S+)$/m),
  };
}

/** The `f` quantile (0..1) of ascending `sorted`, 0 when it is empty. */
function quantile(sorted: number[], f: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? 0;
}

/** Starts healthz_probe.ts on `addrs`; `stop()` ends it and returns its samples. */
function healthzProbe(addrs: string[]) {
  // At normal priority. Tried at real-time priority (chrt -f 10), so that its own wait for a CPU
  // would not be timed as the node's: the figures were no better, and with the bench pinned to
  // one CPU the probe's main thread spun at 70% of it (a runtime's threads at SCHED_FIFO).
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./healthz_probe.ts", import.meta.url).pathname, ...addrs],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const got: { at: number; node: number; ms: number }[] = [];
  let errors = 0;
  const reading = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const l of lines) {
        const [at, node, ms] = l.split(" ");
        if (ms === "error") errors++;
        else got.push({ at: Number(at), node: Number(node) + 1, ms: Number(ms) });
      }
    }
  })();
  return {
    get errors() {
      return errors;
    },
    async stop() {
      child.kill("SIGTERM");
      await reading;
      await child.status;
      return got;
    },
  };
}

const openLinks: { close(): void }[] = [];

/** Time to DOWN and to RECOVERED, in intervals, over `outages` outages of one check. */
async function latencyRun(
  outages: number,
  impair: Impair,
): Promise<{ down: number[]; up: number[] }> {
  const intervalS = LATENCY_INTERVAL_S;
  const service = new Service();
  service.start();
  const hook = receiver();
  const nodes = await startCluster(1, intervalS, hook.url, impair);
  const down: number[] = [], up: number[] = [];
  // A notice that never comes is counted as this many intervals (and shows as the maximum).
  const limit = 30;
  const waitFor = async (kind: string, from: number, t0: number) => {
    while (!hook.got.slice(from).some((x) => x.kind === kind)) {
      if (Date.now() - t0 > limit * intervalS * 1000) return limit;
      await sleep(20);
    }
    return (hook.got.slice(from).find((x) => x.kind === kind)!.at - t0) / (intervalS * 1000);
  };
  try {
    // Impaired: measure the steady state, once every heartbeat has classified the peers (a cut
    // peer counts as gone after two failed 2 s heartbeats of up to 4 s each: about 10 s). An outage
    // in the first seconds of a partition waits for the cut peer up to the confirm deadline and the
    // hand-over delay, the stated bound (README.md, "In a big outage").
    await sleep(intervalS * 1000 + (impair === null ? 4000 : 12_000));
    for (let k = 0; k < outages; k++) {
      let from = hook.got.length;
      let t0 = Date.now();
      service.stop();
      down.push(await waitFor("down", from, t0));
      from = hook.got.length;
      t0 = Date.now();
      service.start();
      up.push(await waitFor("recovered", from, t0));
      // Stop at a random moment within the interval next time.
      await sleep(1000 + Math.random() * intervalS * 1000);
    }
  } finally {
    await Promise.all(nodes.map((p) => p[Symbol.asyncDispose]()));
    const logs = Deno.env.get("DMC_BENCH_LOGS");
    if (logs) {
      // Every node's log of this case, for finding where the time went.
      const name = impair === null ? "healthy" : impair.delayMs > 0 ? "delay" : "cut";
      for (const [i, p] of nodes.entries()) {
        await Deno.writeTextFile(`${logs}/${name}-n${i + 1}.log`, p.lines.join("\n") + "\n");
      }
    }
    for (const l of openLinks.splice(0)) l.close();
    service.stop();
    await hook.close();
  }
  return { down, up };
}

async function main() {
  // `0` alone: only the latency runs.
  const sizes = (Deno.args.length > 0 ? Deno.args.map(Number) : [100, 1000, 3000])
    .filter((n) => n > 0);
  const rows: Row[] = [];
  for (const n of sizes) {
    const r = await massRun(n);
    rows.push(r);
    console.log(JSON.stringify(r));
  }
  const base = rows[0];
  if (base) printRows(rows, base);
  // DMC_BENCH_LATENCY=0: the mass runs only (each N can then be its own invocation).
  if (Deno.env.get("DMC_BENCH_LATENCY") !== "0") await latencies();
}

function printRows(rows: Row[], base: Row) {
  console.log(
    "\nN      notices dup last(int) req/check healthz_p50/p99/max_ms(>50) rss_before/peak/after_MB  (ratio vs N=" +
      base.n + ": req/check, peak rss)",
  );
  for (const r of rows) {
    console.log(
      `${String(r.n).padEnd(6)} ${String(r.notices).padEnd(7)} ${String(r.duplicates).padEnd(3)} ` +
        `${r.lastIntervals.toFixed(2).padEnd(9)} ${r.reqPerCheck.toFixed(2).padEnd(9)} ` +
        `${r.healthz.p50.toFixed(0)}/${r.healthz.p99.toFixed(0)}/${
          r.healthzOutsideStateMs.toFixed(0)
        }(${r.healthz.over50} of ${r.healthz.samples})`.padEnd(27) + " " +
        `${r.rssBefore.toFixed(0)}/${r.rssPeak.toFixed(0)}/${r.rssAfter.toFixed(0)}`.padEnd(24) +
        `  (${(r.reqPerCheck / base.reqPerCheck).toFixed(2)}x, ${
          (r.rssPeak / base.rssPeak).toFixed(2)
        }x)` +
        `  recovered ${r.recovered}; heap used ${r.heap} MB`,
    );
  }
}

async function latencies() {
  const outages = Number(Deno.env.get("DMC_BENCH_OUTAGES") ?? 8);
  const stats = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    return `${v[0]!.toFixed(2)} / ${v[Math.floor(v.length / 2)]!.toFixed(2)} / ${
      v[v.length - 1]!.toFixed(2)
    }`;
  };
  console.log(
    `\n3 nodes, one check, ${LATENCY_INTERVAL_S} s interval, ${outages} outages each: time to the notice in ` +
      "intervals (min / median / max)",
  );
  const cases: [string, Impair][] = [
    ["healthy", null],
    ["n3 partitioned from n1, n2", { delayMs: 0, cut: (a, b) => a === 2 || b === 2 }],
    ["500 ms each way between peers", { delayMs: 500, cut: () => false }],
  ];
  // DMC_BENCH_CASES=0,2: only those cases (0 healthy, 1 partitioned, 2 delayed).
  const only = Deno.env.get("DMC_BENCH_CASES")?.split(",").map(Number);
  for (const [name, impair] of cases.filter((_, i) => only === undefined || only.includes(i))) {
    const r = await latencyRun(outages, impair);
    console.log(`${name.padEnd(32)} DOWN ${stats(r.down)}   RECOVERED ${stats(r.up)}`);
  }
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
