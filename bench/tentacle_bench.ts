/**
 * Tentacle benchmark: 1,000 small files sent in one session, the same 1,000 drained with LS + MV,
 * one 100 MB file each way, plain and with mutual TLS. Reports files/s, MB/s and the server's peak
 * RSS per phase (VmHWM from /proc, reset through clear_refs before each phase), with the server in
 * its own process. With TENTACLE_REF_DIR set, the Perl reference server is measured too.
 *
 *   deno run -A bench/tentacle_bench.ts [--files 1000] [--big-mb 100] [--json]
 *
 * Loopback only. Targets: drain >= 1,000 files/s; a 100 MB transfer adds < 20 MB to server RSS.
 * @module
 */

import { parseArgs } from "node:util";
import { TentacleClient, type TentacleClientOptions } from "../lib/tentacle/client.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "1000" },
    "big-mb": { type: "string", default: "100" },
    json: { type: "boolean", default: false },
  },
});
const FILES = Number(flags.files);
const BIG = Number(flags["big-mb"]) * 1024 * 1024;
const REF = Deno.env.get("TENTACLE_REF_DIR");
const ENTRY = new URL("../lib/tentacle/server_main.ts", import.meta.url).pathname;
const TLS = new URL("../testdata/tls/", import.meta.url).pathname;
const asNobody = Deno.uid() === 0
  ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
  : [];

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

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
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

async function startServer(kind: "dmonitor" | "reference", tls: boolean): Promise<Server> {
  const dir = await Deno.makeTempDir({ prefix: "tentacle-bench-" });
  await Deno.chmod(dir, 0o777);
  const port = freePort();
  const common = [
    "-s",
    dir,
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    "-I",
    "-o",
    "-m",
    String(BIG + 1),
    "-q",
  ];
  const tlsArgs = tls
    ? ["-e", `${TLS}server.crt`, "-k", `${TLS}server.key`, "-f", `${TLS}ca.crt`]
    : [];
  const cmd = kind === "dmonitor"
    ? [Deno.execPath(), "run", "-A", ENTRY, ...common, ...tlsArgs]
    : [...asNobody, "perl", `${REF}/tentacle_server`, ...common, ...tlsArgs];
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  for (let i = 0;; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (i > 200) throw new Error(`${kind} server did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
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

async function bench(kind: "dmonitor" | "reference", tls: boolean, local: string, rows: Row[]) {
  const srv = await startServer(kind, tls);
  const mode = tls ? "mutual TLS" : "plain";
  const clientOpts: TentacleClientOptions = {
    port: srv.port,
    idleTimeoutMs: 60_000,
    ...(tls
      ? {
        tls: { certFile: `${TLS}client.crt`, keyFile: `${TLS}client.key`, caFile: `${TLS}ca.crt` },
      }
      : {}),
  };
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
    const peak = await status(srv.pid, "VmHWM");
    const rate = unit === "files"
      ? `${(count / seconds).toFixed(0)} files/s`
      : `${(count / seconds).toFixed(1)} MB/s`;
    rows.push({
      server: kind,
      mode,
      phase: name,
      count,
      seconds: Number(seconds.toFixed(3)),
      rate,
      rssBeforeMB: Number(before.toFixed(1)),
      peakMB: Number(peak.toFixed(1)),
      addedMB: Number((peak - before).toFixed(1)),
    });
  };
  try {
    const small = new TextEncoder().encode("<agent_data>".padEnd(1500, "x") + "</agent_data>\n");
    await Deno.writeFile(`${local}/small.data`, small);
    const c = await TentacleClient.connect(clientOpts);
    // Warm up the server (JIT, TLS session setup) so the first phase is not all start-up cost.
    await c.send("warmup.data", small);
    await c.mv("warmup.data", `${local}/warmup.data`);
    await phase(`send ${FILES} small files, one session`, FILES, "files", async () => {
      for (let i = 0; i < FILES; i++) {
        await c.send(`agent${i}.${1700000000 + i}.data`, `${local}/small.data`);
      }
    });
    const drained = `${local}/drained-${kind}-${tls}`;
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
    await c.quit();
    await Deno.remove(drained, { recursive: true });
  } finally {
    await srv.stop();
  }
}

const local = await Deno.makeTempDir({ prefix: "tentacle-bench-local-" });
const rows: Row[] = [];
try {
  await writeBig(`${local}/big.bin`, BIG);
  const kinds: ("dmonitor" | "reference")[] = REF ? ["dmonitor", "reference"] : ["dmonitor"];
  for (const kind of kinds) {
    for (const tls of [false, true]) await bench(kind, tls, local, rows);
  }
} finally {
  await Deno.remove(local, { recursive: true });
}

if (flags.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  console.log(
    `Tentacle benchmark (${FILES} files of 1.5 kB, ${BIG / 2 ** 20} MB file; loopback; fsync on)`,
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
}
