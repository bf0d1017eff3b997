/**
 * Detection-to-verdict latency with 5 peers on loopback: the time from a local failure to the
 * quorum verdict, i.e. one signed confirm round to 5 peers (127.0.0.2 ... 127.0.0.6, port 0) plus
 * `decideQuorum`, excluding the plugin's own run time (the peers answer from a cached result).
 * Target p50 < 20 ms. Prints figures; asserts nothing.
 *
 * The 5 peer endpoints run in a Worker, on their own thread, as they would run on other machines;
 * `--same-thread` puts them on the asking node's event loop instead.
 *
 *     deno run -A bench/quorum_latency.ts [ROUNDS=500] [--same-thread]
 * @module
 */
import type { Peer } from "../lib/config/types.ts";
import { createLogger } from "../lib/log/mod.ts";
import { askPeers } from "../lib/peers/client.ts";
import { createPeerApp } from "../lib/peers/app.ts";
import { startPeerServer } from "../lib/peers/server.ts";
import { createPeerRpc } from "../lib/peers/rpc.ts";
import { IncidentEngine } from "../lib/quorum/engine.ts";
import { RecordingNotifier } from "../lib/quorum/fixtures_testing.ts";
import { decideQuorum } from "../lib/quorum/quorum.ts";
import { defaultTiming } from "../lib/quorum/timing.ts";
import type { IncidentView, LocalAnswer, Vote } from "../lib/quorum/types.ts";

const KEY = "bench-peer-key-0123456789abcdef-0123456789";
const HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"];
const TARGET = { host: "www.example.com", test: "http" };

/** Starts the 5 peer endpoints; each answers confirm from a cached FAIL result. */
function startPeers() {
  const incident: IncidentView = {
    ...TARGET,
    phase: "down",
    claim: null,
    incident: {
      id: "www.example.com/http/1700000000000/node-2",
      startedAt: 1_700_000_000_000,
      endedAt: null,
      down: null,
      recovered: null,
    },
    closed: null,
  };
  return HOSTS.map((hostname, i) => {
    const cached: LocalAnswer = {
      status: "FAIL",
      output: "HTTP GET http://www.example.com/: connection refused",
      at: Date.now(),
      incident,
    };
    const answer = (host: string, test: string): LocalAnswer =>
      host === TARGET.host && test === TARGET.test
        ? cached
        : { ...cached, incident: { ...incident, host, test } };
    const app = createPeerApp({
      nodeName: `node-${i + 2}`,
      key: KEY,
      peers: () => ["node-1"],
      log: createLogger({ min: "error" }),
      confirm: (host, test) => Promise.resolve(answer(host, test)),
      view: answer,
      hear: () => Promise.resolve(true),
      state: () => ({}),
    });
    return startPeerServer({ hostname, port: 0, app });
  });
}

if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  // Worker side: serve the peers and report their ports.
  const servers = startPeers();
  (self as unknown as Worker).postMessage(servers.map((s) => s.addr.port));
} else {
  await main();
}

async function main() {
  const args = Deno.args.filter((a) => !a.startsWith("--"));
  const rounds = Number(args[0] ?? 500);
  const sameThread = Deno.args.includes("--same-thread");
  let ports: number[];
  let stop: () => Promise<void>;
  if (sameThread) {
    const servers = startPeers();
    ports = servers.map((s) => s.addr.port);
    stop = async () => {
      await Promise.all(servers.map((s) => s.shutdown()));
    };
  } else {
    const worker = new Worker(import.meta.url, { type: "module" });
    ports = await new Promise<number[]>((resolve) => (worker.onmessage = (e) => resolve(e.data)));
    stop = () => Promise.resolve(worker.terminate());
  }
  const peers: Peer[] = HOSTS.map((host, i) => ({
    host,
    port: ports[i]!,
    raw: `${host}:${ports[i]}`,
    line: i + 1,
    name: `node-${i + 2}`,
  }));
  const opts = { key: KEY, nodeName: "node-1", deadlineMs: 12_000 };
  const rule = { kind: "count" as const, count: 2 };

  const round = async () => {
    const t0 = performance.now();
    const self: Vote = { node: "node-1", status: "FAIL", output: "", at: Date.now() };
    const answers = await askPeers(peers, TARGET, opts);
    const d = decideQuorum([self, ...answers.map((a) => a.vote)], rule, 6, "node-1");
    const ms = performance.now() - t0;
    if (d.verdict !== "down" || d.failing.length !== 6) {
      throw new Error(
        `unexpected verdict ${d.verdict} (${
          answers.map((a) => a.error ?? a.vote.status).join(", ")
        })`,
      );
    }
    return ms;
  };

  // The same through the node's shell: IncidentEngine.round on a fresh failure (a new host each
  // time), from the local result to the phase `down`, including state, health and claim.
  const rpc = createPeerRpc(peers, {
    key: KEY,
    nodeName: "node-1",
    confirmDeadlineMs: 12_000,
    viewDeadlineMs: 1500,
    log: createLogger({ min: "error" }),
  });
  const engine = new IncidentEngine({
    self: "node-1",
    peers: peers.map((p) => p.raw),
    rule,
    timing: defaultTiming({ timeout: 10_000 }),
    ...rpc,
    notifier: new RecordingNotifier(),
    log: createLogger({ min: "error" }),
    // The settle timers are not part of the verdict: they never fire.
    clock: {
      now: () => Date.now(),
      sleep: (_ms, s) => new Promise((r) => s?.addEventListener("abort", () => r())),
    },
  });
  let n = 0;
  const engineRound = async () => {
    const host = `h${n++}.example.com`;
    const t0 = performance.now();
    await engine.round(host, "http", {
      host,
      test: "http",
      status: "FAIL",
      state: "FAIL",
      output: "connection refused",
      perfdata: "",
      exitCode: null,
      startedAt: Date.now(),
      durationMs: 0,
    });
    const ms = performance.now() - t0;
    if (engine.view(host, "http")?.phase !== "down") throw new Error(`no verdict for ${host}`);
    return ms;
  };

  const measure = async (f: () => Promise<number>) => {
    for (let i = 0; i < 20; i++) await f(); // warm-up: connections, JIT
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) times.push(await f());
    return times.sort((a, b) => a - b);
  };
  const bare = await measure(round);
  const full = await measure(engineRound);
  engine.close();
  await stop();

  const where = sameThread ? "same thread" : "peers in a worker thread";
  console.log(
    `quorum latency: ${rounds} rounds, 5 peers on ${HOSTS[0]}..${HOSTS.at(-1)}, ${where}`,
  );
  report("askPeers + decideQuorum", bare);
  report("IncidentEngine.round   ", full);
}

function report(name: string, times: number[]) {
  const pct = (p: number) =>
    times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!;
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(
    `  ${name}  p50 ${pct(50).toFixed(2)} ms  p90 ${pct(90).toFixed(2)} ms  p99 ${
      pct(99).toFixed(2)
    } ms  ` +
      `max ${times.at(-1)!.toFixed(2)} ms  mean ${mean.toFixed(2)} ms  ` +
      `(target p50 < 20 ms: ${pct(50) < 20 ? "met" : "NOT met"})`,
  );
}
