/**
 * Tentacle benchmark: 1,000 small files sent in one session, the same 1,000 drained with LS + MV,
 * one 100 MB file each way, plain and with mutual TLS. Reports files/s, MB/s and the server's peak
 * RSS per phase (VmHWM from /proc, reset through clear_refs before each phase), with the server in
 * its own process. With TENTACLE_REF_DIR set, the Perl reference server is measured too, and the
 * small-file send runs on every server at once, in interleaved rounds (ours, ours with `fsync 0`,
 * the reference, again and again, each in its own session), so that the load of a shared machine
 * weighs on all alike; it prints our rate over the reference's, for each mode.
 *
 *   deno run -A bench/tentacle_bench.ts [--files 1000] [--rounds 10] [--big-mb 100] [--json]
 *
 * Loopback only. Targets: drain >= 1,000 files/s; a 100 MB transfer adds < 20 MB to server RSS;
 * small-file send at least 1.0x the reference.
 * @module
 */

import { parseArgs } from "node:util";
import { asNobody, ENTRY, freePort, serverFlags, TLS, waitForTentacle } from "./tentacle_util.ts";
import { TentacleClient, type TentacleClientOptions } from "../lib/tentacle/client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "1000" },
    rounds: { type: "string", default: "10" },
    "big-mb": { type: "string", default: "100" },
    json: { type: "boolean", default: false },
  },
});
const FILES = Number(flags.files);
const ROUNDS = Math.max(1, Math.min(FILES, Number(flags.rounds)));
const BIG = Number(flags["big-mb"]) * 1024 * 1024;
const REF = Deno.env.get("TENTACLE_REF_DIR");

interface Row {
  server: string;
  mode: string;
  phase: string;
  count: number;
  seconds: number;
  rate: string;
  rssBeforeMB: number;
  peakMB: number;
  addedMB: number;
}

async function status(pid: number, key: "VmRSS" | "VmHWM"): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Resets the peak RSS so the next phase's VmHWM is its own (Linux clear_refs, value 5). */
async function resetPeak(pid: number): Promise<void> {
  await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});
}

interface Server {
  name: string;
  pid: number;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

type Kind = "dmonitor" | "dmonitor fsync 0" | "reference";

async function startServer(kind: Kind, tls: boolean, local: string): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "tentacle-bench-" });
  await Deno.chmod(dir, 0o777);
  const port = freePort();
  const common = [
    ...serverFlags(dir, port, tls),
    "-m",
    String(BIG + 1),
    // Not -q for the reference: quiet, its error() returns instead of ending the connection, and
    // a thread whose client is gone (a failed handshake, an early close) spins at 100% CPU.
    ...(kind === "reference" ? [] : ["-q"]),
  ];
  // `fsync 0` (ours, config file only): the reference's durability, for a like-for-like figure.
  const conf = `${local}/fsync0.conf`;
  if (kind === "dmonitor fsync 0") await Deno.writeTextFile(conf, "fsync 0\n");
  const cmd = kind === "reference" ? [...asNobody, "perl", `${REF}/tentacle_server`, ...common] : [
    Deno.execPath(),
    "run",
    "-A",
    ENTRY,
    ...(kind === "dmonitor fsync 0" ? ["-F", conf] : []),
    ...common,
  ];
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  await waitForTentacle(port, `${kind} server`);
  return {
    name: kind,
    pid: child.pid,
    port,
    dir,
    async stop() {
      child.kill("SIGINT");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function writeBig(path: string, size: number): Promise<void> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1 << 20);
  for (let off = 0; off < block.length; off += 65536) {
    crypto.getRandomValues(block.subarray(off, off + 65536));
  }
  for (let done = 0; done < size; done += block.length) {
    const piece = block.subarray(0, Math.min(block.length, size - done));
    let o = 0;
    while (o < piece.length) o += await f.write(piece.subarray(o));
  }
}

const SMALL = new TextEncoder().encode("<agent_data>".padEnd(1500, "x") + "</agent_data>\n");

/** A server under test with its client session (warmed up) and its rows. */
interface Subject {
  kind: Kind;
  srv: Server;
  c: TentacleClient;
  mode: string;
}

function measure(
  rows: Row[],
  s: Subject,
  name: string,
  count: number,
  unit: "files" | "MB",
  seconds: number,
  before: number,
  peak: number,
): void {
  const rate = unit === "files"
    ? `${(count / seconds).toFixed(0)} files/s`
    : `${(count / seconds).toFixed(1)} MB/s`;
  rows.push({
    server: s.kind,
    mode: s.mode,
    phase: name,
    count,
    seconds: Number(seconds.toFixed(3)),
    rate,
    rssBeforeMB: Number(before.toFixed(1)),
    peakMB: Number(peak.toFixed(1)),
    addedMB: Number((peak - before).toFixed(1)),
  });
}

async function open(kind: Kind, tls: boolean, local: string): Promise<Subject> {
  const srv = await startServer(kind, tls, local);
  const clientOpts: TentacleClientOptions = {
    port: srv.port,
    idleTimeoutMs: 60_000,
    ...(tls
      ? {
        tls: { certFile: `${TLS}client.crt`, keyFile: `${TLS}client.key`, caFile: `${TLS}ca.crt` },
      }
      : {}),
  };
  try {
    const c = await TentacleClient.connect(clientOpts);
    // Warm up the server (JIT, TLS session setup) so the first phase is not all start-up cost.
    await c.send("warmup.data", SMALL);
    await c.mv("warmup.data", `${local}/warmup.data`);
    return { kind, srv, c, mode: tls ? "mutual TLS" : "plain" };
  } catch (e) {
    await srv.stop();
    throw e;
  }
}

/**
 * FILES small files sent to every subject, each in its own session, in ROUNDS interleaved rounds;
 * returns files/s per subject (total files over total time).
 */
async function sendSmall(subjects: Subject[], local: string, rows: Row[]): Promise<number[]> {
  await Deno.writeFile(`${local}/small.data`, SMALL);
  const seconds = subjects.map(() => 0);
  const before: number[] = [];
  for (const s of subjects) {
    await resetPeak(s.srv.pid);
    before.push(await status(s.srv.pid, "VmRSS"));
  }
  for (let r = 0; r < ROUNDS; r++) {
    const from = Math.floor((FILES * r) / ROUNDS);
    const to = Math.floor((FILES * (r + 1)) / ROUNDS);
    for (const [k, s] of subjects.entries()) {
      const t0 = performance.now();
      for (let i = from; i < to; i++) {
        await s.c.send(`agent${i}.${1700000000 + i}.data`, `${local}/small.data`);
      }
      seconds[k]! += (performance.now() - t0) / 1000;
    }
  }
  for (const [k, s] of subjects.entries()) {
    const name = `send ${FILES} small files, one session` +
      (subjects.length > 1 ? ` (${ROUNDS} interleaved rounds)` : "");
    const peak = await status(s.srv.pid, "VmHWM");
    measure(rows, s, name, FILES, "files", seconds[k]!, before[k]!, peak);
  }
  return seconds.map((sec) => FILES / sec);
}

/** Drain, then one big file each way, on a subject holding the FILES small files. */
async function bulk(s: Subject, local: string, rows: Row[]): Promise<void> {
  const { c, srv } = s;
  const phase = async (
    name: string,
    count: number,
    unit: "files" | "MB",
    body: () => Promise<void>,
  ) => {
    await resetPeak(srv.pid);
    const before = await status(srv.pid, "VmRSS");
    const t0 = performance.now();
    await body();
    const seconds = (performance.now() - t0) / 1000;
    measure(rows, s, name, count, unit, seconds, before, await status(srv.pid, "VmHWM"));
  };
  const drained = `${local}/drained-${s.kind}-${s.mode}`;
  await Deno.mkdir(drained);
  const how = c.safeMove ? "LS + SMV, batches of 64" : "LS + MV";
  await phase(`drain ${FILES} with ${how}`, FILES, "files", async () => {
    const names = await c.ls();
    if (names.length !== FILES) throw new Error(`LS listed ${names.length} files`);
    const items = names.map((n) => ({ name: n, dest: `${drained}/${n}` }));
    const { moved, failed } = await c.mvMany(items);
    if (moved.length !== FILES || failed.length > 0) throw new Error(`drained ${moved.length}`);
    if (c.safeMove && !moved.every((m) => m.confirmed)) throw new Error("unconfirmed moves");
  });
  if ((await c.ls()).length !== 0) throw new Error("files left after the drain");
  await phase(
    `SEND one ${BIG / 2 ** 20} MB file`,
    BIG / 2 ** 20,
    "MB",
    () => c.send("big.data", `${local}/big.bin`),
  );
  await phase(`RECV one ${BIG / 2 ** 20} MB file`, BIG / 2 ** 20, "MB", async () => {
    await c.recv("big.data", `${local}/big-back.bin`);
  });
  await Deno.remove(`${local}/big-back.bin`);
  await phase(`MV one ${BIG / 2 ** 20} MB file`, BIG / 2 ** 20, "MB", async () => {
    await c.mv("big.data", `${local}/big-moved.bin`);
  });
  await Deno.remove(`${local}/big-moved.bin`);
  await Deno.remove(drained, { recursive: true });
}

/** Every phase in one mode; returns the small-file rates by kind. */
async function benchMode(tls: boolean, local: string, rows: Row[]): Promise<Map<Kind, number>> {
  const kinds: Kind[] = REF ? ["dmonitor", "dmonitor fsync 0", "reference"] : ["dmonitor"];
  const subjects: Subject[] = [];
  try {
    for (const kind of kinds) subjects.push(await open(kind, tls, local));
    const rates = await sendSmall(subjects, local, rows);
    for (const s of subjects) if (s.kind !== "dmonitor fsync 0") await bulk(s, local, rows);
    return new Map(subjects.map((s, k) => [s.kind, rates[k]!]));
  } finally {
    for (const s of subjects) {
      await s.c.quit();
      await s.srv.stop();
    }
  }
}

const local = await Deno.makeTempDir({ prefix: "tentacle-bench-local-" });
const rows: Row[] = [];
const ratios: { mode: string; ours: number; oursNoFsync: number; reference: number }[] = [];
try {
  await writeBig(`${local}/big.bin`, BIG);
  for (const tls of [false, true]) {
    const rates = await benchMode(tls, local, rows);
    if (REF) {
      ratios.push({
        mode: tls ? "mutual TLS" : "plain",
        ours: rates.get("dmonitor")!,
        oursNoFsync: rates.get("dmonitor fsync 0")!,
        reference: rates.get("reference")!,
      });
    }
  }
} finally {
  await Deno.remove(local, { recursive: true });
}
const load = (await Deno.readTextFile("/proc/loadavg")).trim();

if (flags.json) {
  const ratio = ratios.map((r) => ({
    ...r,
    ratio: Number((r.ours / r.reference).toFixed(2)),
    ratioNoFsync: Number((r.oursNoFsync / r.reference).toFixed(2)),
  }));
  console.log(JSON.stringify({ rows, smallFileSend: ratio, loadavg: load }, null, 2));
} else {
  console.log(
    `Tentacle benchmark (${FILES} files of 1.5 kB, ${BIG / 2 ** 20} MB file; loopback; fsync on ` +
      `unless said)`,
  );
  if (!REF) console.log("(set TENTACLE_REF_DIR to compare with the Perl reference server)");
  console.table(rows.map((r) => ({
    server: r.server,
    mode: r.mode,
    phase: r.phase,
    s: r.seconds,
    rate: r.rate,
    "server RSS before MB": r.rssBeforeMB,
    "peak MB": r.peakMB,
    "added MB": r.addedMB,
  })));
  for (const r of ratios) {
    console.log(
      `small-file send, ${r.mode}: ours ${r.ours.toFixed(0)} files/s (fsync on), ` +
        `${r.oursNoFsync.toFixed(0)} (fsync 0), reference ${r.reference.toFixed(0)}: ` +
        `ratio ${(r.ours / r.reference).toFixed(2)} (fsync on), ` +
        `${(r.oursNoFsync / r.reference).toFixed(2)} (fsync 0, as the reference)`,
    );
  }
  console.log(`load average: ${load}`);
}
