/**
 * Built-in `tcp` check throughput: checks per second against a local listener on 127.0.0.1, with
 * bounded concurrency. Target >= 3,000/s on 2 cores. Prints figures; asserts nothing.
 *
 * The listener (accept, then close) runs in a Worker, on its own thread, as a real server would
 * run in its own process; `--same-thread` puts it on the checks' event loop instead. Each check
 * gets its own `AbortSignal.timeout`, as the node gives it. CPU ms per check (this process, from
 * /proc/self/stat) stays meaningful on a machine shared with other work.
 *
 *     deno run -A bench/checks_tcp.ts [N=20000] [CONCURRENCY=64] [ROUNDS=3] [--same-thread]
 * @module
 */
import { tcp } from "../lib/checks/tcp.ts";

const TIMEOUT_MS = 5000;

export interface TcpBenchOptions {
  /** Checks per round (default 20,000). */
  n?: number;
  /** Checks in flight at once (default 64). */
  concurrency?: number;
  /** Measured rounds after one warm-up (default 3). */
  rounds?: number;
  /** Run the listener on the checks' event loop instead of a Worker. */
  sameThread?: boolean;
  /** Where progress lines go (default console.log). */
  log?: (line: string) => void;
}

/** What the listener runs: accept every connection and close it at once; report the count. */
const LISTENER = `
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
let accepted = 0;
self.postMessage(listener.addr.port);
self.onmessage = () => self.postMessage(accepted);
for await (const conn of listener) { accepted++; conn.close(); }
`;

interface Listener extends AsyncDisposable {
  port: number;
  /** Connections the listener accepted so far. */
  accepted(): Promise<number>;
}

async function startListener(sameThread: boolean): Promise<Listener> {
  if (sameThread) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let accepted = 0;
    const loop = (async () => {
      for await (const conn of listener) {
        accepted++;
        conn.close();
      }
    })().catch(() => {});
    return {
      port: listener.addr.port,
      accepted: () => Promise.resolve(accepted),
      async [Symbol.asyncDispose]() {
        listener.close();
        await loop;
      },
    };
  }
  const url = URL.createObjectURL(new Blob([LISTENER], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const reply = () => new Promise<number>((resolve) => worker.onmessage = (e) => resolve(e.data));
  const port = await reply();
  return {
    port,
    accepted() {
      const count = reply();
      worker.postMessage("count");
      return count;
    },
    [Symbol.asyncDispose]() {
      worker.terminate();
      URL.revokeObjectURL(url);
      return Promise.resolve();
    },
  };
}

/** CPU seconds used by this process (user + system; Linux, USER_HZ = 100). */
function cpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return (f[11]! + f[12]!) / 100;
}

interface Round {
  rate: number;
  cpuMs: number;
  failed: number;
  firstFailure?: string;
}

/** Runs `n` tcp checks, at most `concurrency` at a time. */
async function round(port: number, n: number, concurrency: number): Promise<Round> {
  let next = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  const worker = async () => {
    while (next < n) {
      next++;
      const out = await tcp.run({
        host: "127.0.0.1",
        params: { port },
        signal: AbortSignal.timeout(TIMEOUT_MS),
        timeoutMs: TIMEOUT_MS,
      });
      if (out.status !== "OK") {
        failed++;
        firstFailure ??= out.output;
      }
    }
  };
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { rate: n / seconds, cpuMs: (cpuSeconds() - cpu0) * 1000 / n, failed, firstFailure };
}

/** Runs the benchmark, printing a line per round; returns the median checks per second. */
export async function benchTcpChecks(opts: TcpBenchOptions = {}): Promise<number> {
  const { n = 20_000, concurrency = 64, rounds = 3, sameThread = false, log = console.log } = opts;
  await using listener = await startListener(sameThread);
  const where = sameThread ? "same thread" : "worker thread";
  log(
    `tcp check: ${n} checks x ${rounds} rounds, concurrency ${concurrency}, ` +
      `listener 127.0.0.1:${listener.port} (${where}), ${navigator.hardwareConcurrency} cores`,
  );
  const warmup = Math.min(2000, n);
  await round(listener.port, warmup, concurrency); // JIT, socket paths
  const rates: number[] = [];
  for (let i = 1; i <= rounds; i++) {
    const r = await round(listener.port, n, concurrency);
    rates.push(r.rate);
    const fails = r.failed ? `, ${r.failed} failed (first: ${r.firstFailure})` : "";
    log(`  round ${i}: ${Math.round(r.rate)} checks/s, ${r.cpuMs.toFixed(3)} CPU ms/check${fails}`);
  }
  const median = rates.toSorted((a, b) => a - b)[Math.floor(rates.length / 2)]!;
  await new Promise((r) => setTimeout(r, 100)); // let the listener finish its last accepts
  log(`listener accepted ${await listener.accepted()} of ${warmup + n * rounds} connections`);
  log(`tcp checks/s: ${Math.round(median)} (median of ${rounds}; target >= 3000)`);
  return median;
}

if (import.meta.main) {
  const args = Deno.args.filter((a) => !a.startsWith("--"));
  await benchTcpChecks({
    n: args[0] ? Number(args[0]) : undefined,
    concurrency: args[1] ? Number(args[1]) : undefined,
    rounds: args[2] ? Number(args[2]) : undefined,
    sameThread: Deno.args.includes("--same-thread"),
  });
}
