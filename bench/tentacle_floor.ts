/**
 * Floor of the Tentacle small-file send on this runtime: minimal servers that do only what the
 * protocol needs, no checks, no deadlines, no logging, each in its own process, against the Perl
 * reference server and ours, in interleaved rounds, with our client sending 1.5 kB files in one
 * session to each (as bench/tentacle_bench.ts). Variants:
 *
 * - `socket`: reads `SEND <name> SIZE <n>`, answers `SEND OK`, reads n bytes, answers `SEND OK`,
 *   and stores nothing: what the runtime's socket reads and writes cost alone.
 * - `direct`: as `socket`, writing each body to its final name (open, write, close), as the
 *   reference does.
 * - `temp`: as `direct`, through a hidden temporary name then link + unlink, as our server does.
 * - `temp+fdatasync`: as `temp`, with fdatasync of the file before the link: one device flush a
 *   file, the least any reply "stored durably" can cost when files come one at a time.
 * - `temp+fsync`: as `temp`, with fdatasync of the file before the link and fsync of the
 *   directory after it, as our server does by default.
 *
 * Prints files/s and server CPU ms per file for each, and each over the reference's rate. If a
 * variant doing less than our server is below 1.0x, that much of the gap is the runtime's.
 *
 * With `--tls`, every server (and our client) speaks mutual TLS, the minimal ones over node:tls
 * as ours does. The reference runs without -q: quiet, its error() returns instead of ending the
 * connection, and a thread whose client went away spins at 100% CPU.
 *
 * With `--node-net` (plain only), the minimal servers use node:net instead of Deno.listen: which of
 * the two is cheaper for the plain transport.
 *
 * With `--before DIR` (a checkout of an earlier commit, e.g. `git archive <commit> lib deno.json
 * deno.lock | tar -x -C DIR`), that version of our server is measured too, in the same rounds.
 *
 *   TENTACLE_REF_DIR=... deno run -A bench/tentacle_floor.ts [--files 1000] [--rounds 10]
 *     [--tls | --node-net] [--before DIR]
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { parseArgs } from "node:util";
import { asNobody, ENTRY, freePort, serverFlags, TLS, waitForTentacle } from "./tentacle_util.ts";
import { TentacleClient } from "../lib/tentacle/client.ts";

const VARIANTS = ["socket", "direct", "temp", "temp+fdatasync", "temp+fsync"] as const;
type Variant = typeof VARIANTS[number];

let seq = 0; // temporary names of the minimal servers

if (Deno.args[0] === "--serve") {
  const [variant, port, dir] = [Deno.args[1] as Variant, Number(Deno.args[2]), Deno.args[3]!];
  if (Deno.args[4] === "tls" || Deno.args[4] === "net") serveNode(variant, port, dir, Deno.args[4]);
  else serve(variant, port, dir);
  await new Promise(() => {}); // serve until killed
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "1000" },
    rounds: { type: "string", default: "10" },
    before: { type: "string" },
    tls: { type: "boolean", default: false },
    "node-net": { type: "boolean", default: false },
  },
});
const FILES = Number(flags.files);
const ROUNDS = Math.max(1, Number(flags.rounds));
const REF = Deno.env.get("TENTACLE_REF_DIR");

/** The minimal server: one connection at a time, SEND and QUIT only. */
async function serve(variant: Variant, port: number, dir: string): Promise<void> {
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  const ok = new TextEncoder().encode("SEND OK\n");
  const dec = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  for await (const conn of l) {
    conn.setNoDelay(true);
    let have = 0; // bytes buffered in buf[0..have)
    const fill = async () => {
      const n = await conn.read(buf.subarray(have));
      if (n === null) return false;
      have += n;
      return true;
    };
    const consume = (n: number) => {
      buf.copyWithin(0, n, have);
      have -= n;
    };
    try {
      for (;;) {
        let nl = buf.subarray(0, have).indexOf(10);
        while (nl < 0) {
          if (!(await fill())) throw new Error("eof");
          nl = buf.subarray(0, have).indexOf(10);
        }
        const line = dec.decode(buf.subarray(0, nl));
        consume(nl + 1);
        if (line === "QUIT") break;
        const m = /^SEND <(.*)> SIZE (\d+)$/.exec(line);
        if (!m) break;
        const size = Number(m[2]);
        await conn.write(ok);
        while (have < size) if (!(await fill())) throw new Error("eof");
        const pending = store(variant, dir, m[1]!, buf.subarray(0, size));
        if (pending) await pending;
        consume(size);
        await conn.write(ok);
      }
    } catch { /* the client went away */ }
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Stores one body as the variant does; a promise only when it waits on the disk. */
function store(
  variant: Variant,
  dir: string,
  name: string,
  body: Uint8Array,
): Promise<void> | void {
  if (variant === "socket") return;
  const final = `${dir}/${name}`;
  const path = variant === "direct" ? final : `${dir}/.tmp.${Deno.pid}.${seq++}`;
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  f.writeSync(body);
  const link = () => {
    f.close();
    if (variant !== "direct") {
      Deno.linkSync(path, final);
      Deno.removeSync(path);
    }
  };
  if (variant === "temp+fdatasync") return f.syncData().then(link);
  if (variant === "temp+fsync") {
    return f.syncData().then(link).then(() => {
      const d = Deno.openSync(dir, { read: true });
      return d.sync().finally(() => d.close());
    });
  }
  link();
}

/**
 * The minimal server over node:tls with a required client certificate (as ours and the
 * reference's -f), or over plain node:net: callbacks only, one buffer per connection.
 */
function serveNode(variant: Variant, port: number, dir: string, over: "tls" | "net"): void {
  const ok = new TextEncoder().encode("SEND OK\n");
  const dec = new TextDecoder();
  const serve = (sock: net.Socket) => {
    sock.setNoDelay(true);
    let buf = new Uint8Array(0);
    let want = -1; // body bytes awaited, or -1 while a command line is
    let name = "";
    let busy = false;
    const step = (): void => {
      while (!busy) {
        if (want < 0) {
          const nl = buf.indexOf(10);
          if (nl < 0) return;
          const line = dec.decode(buf.subarray(0, nl));
          buf = buf.subarray(nl + 1);
          const m = /^SEND <(.*)> SIZE (\d+)$/.exec(line);
          if (!m) return void sock.end();
          [name, want] = [m[1]!, Number(m[2])];
          sock.write(ok);
        } else {
          if (buf.length < want) return;
          const body = buf.subarray(0, want);
          buf = buf.subarray(want);
          want = -1;
          const pending = store(variant, dir, name, body);
          if (!pending) sock.write(ok);
          else {
            busy = true;
            pending.then(() => {
              busy = false;
              sock.write(ok);
              step();
            });
          }
        }
      }
    };
    sock.on("data", (chunk: Uint8Array) => {
      const joined = new Uint8Array(buf.length + chunk.length);
      joined.set(buf);
      joined.set(chunk, buf.length);
      buf = joined;
      step();
    });
    sock.on("error", () => sock.destroy());
  };
  const srv = over === "net" ? net.createServer(serve) : tls.createServer({
    cert: Deno.readTextFileSync(`${TLS}server.crt`),
    key: Deno.readTextFileSync(`${TLS}server.key`),
    ca: Deno.readTextFileSync(`${TLS}ca.crt`),
    requestCert: true,
    rejectUnauthorized: true,
  }, serve);
  srv.on("tlsClientError", () => {});
  srv.listen({ host: "127.0.0.1", port });
}

interface Subject {
  name: string;
  child: Deno.ChildProcess;
  dir: string;
  c: TentacleClient;
  seconds: number;
  cpuTicks: number;
  /** Prefix of the names this server is sent (the directory is shared). */
  tag: string;
}

async function cpuTicks(pid: number): Promise<number> {
  const f = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks
}

let tags = 0;

async function start(name: string, cmd: string[], dir: string, port: number): Promise<Subject> {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "null",
    // The reference reports each probe's failed handshake (it runs without -q, see above).
    stderr: name === "reference" ? "null" : "inherit",
  }).spawn();
  await waitForTentacle(port, name);
  // The minimal servers serve one connection at a time: the probe above has ended by now.
  const c = await TentacleClient.connect({
    port,
    idleTimeoutMs: 60_000,
    probe: false,
    ...(flags.tls
      ? {
        tls: { certFile: `${TLS}client.crt`, keyFile: `${TLS}client.key`, caFile: `${TLS}ca.crt` },
      }
      : {}),
  });
  return { name, child, dir, c, seconds: 0, cpuTicks: 0, tag: `s${tags++}-` };
}

const local = await Deno.makeTempDir({ prefix: "tentacle-floor-" });
const SMALL = new TextEncoder().encode("<agent_data>".padEnd(1500, "x") + "</agent_data>\n");
const small = `${local}/small.data`;
await Deno.writeFile(small, SMALL);
const subjects: Subject[] = [];
try {
  // One storage directory for every server (each sends its own names): on ext4 without a
  // journal, creating a file in a block group with inodes deleted in the last ~30 s scans past
  // each of them (recently_deleted() in the kernel), up to ~0.5 ms a file here. Servers with
  // directories of their own could land in groups unlike in that respect, which swamped the
  // differences measured; sharing one puts them all in the same state.
  await Deno.chmod(local, 0o755);
  const shared = `${local}/storage`;
  await Deno.mkdir(shared);
  await Deno.chmod(shared, 0o777);
  const mk = () => Promise.resolve(shared);
  const common = (dir: string, port: number) => serverFlags(dir, port, flags.tls);
  if (REF) {
    const [dir, port] = [await mk(), freePort()];
    subjects.push(
      await start(
        "reference",
        [...asNobody, "perl", `${REF}/tentacle_server`, ...common(dir, port)],
        dir,
        port,
      ),
    );
  }
  const conf = `${local}/fsync0.conf`;
  await Deno.writeTextFile(conf, "fsync 0\n");
  await Deno.chmod(conf, 0o644);
  const ours: [string, string][] = [["dmonitor fsync 0", ENTRY]];
  if (flags.before) {
    ours.push(["dmonitor fsync 0, before", `${flags.before}/lib/tentacle/server_main.ts`]);
  }
  for (const [name, entry] of ours) {
    const [dir, port] = [await mk(), freePort()];
    const cmd = [Deno.execPath(), "run", "-A", entry, "-F", conf, ...common(dir, port), "-q"];
    subjects.push(await start(name, cmd, dir, port));
  }
  for (const v of VARIANTS) {
    const [dir, port] = [await mk(), freePort()];
    const self = new URL(import.meta.url).pathname;
    const cmd = [Deno.execPath(), "run", "-A", self, "--serve", v, String(port), dir];
    if (flags.tls) cmd.push("tls");
    else if (flags["node-net"]) cmd.push("net");
    subjects.push(await start(`floor: ${v}`, cmd, dir, port));
  }
  // Warm up every server (JIT) before measuring.
  for (const s of subjects) {
    for (let i = 0; i < 200; i++) await s.c.send(`${s.tag}warm${i}.data`, small);
  }
  // Idle servers use no CPU: the CPU of each over the whole loop is that of its own rounds.
  for (const s of subjects) s.cpuTicks = -(await cpuTicks(s.child.pid));
  for (let r = 0; r < ROUNDS; r++) {
    const from = Math.floor((FILES * r) / ROUNDS);
    const to = Math.floor((FILES * (r + 1)) / ROUNDS);
    for (const s of subjects) {
      const t0 = performance.now();
      for (let i = from; i < to; i++) {
        await s.c.send(`${s.tag}agent${i}.${1700000000 + i}.data`, small);
      }
      s.seconds += (performance.now() - t0) / 1000;
    }
  }
  for (const s of subjects) s.cpuTicks += await cpuTicks(s.child.pid);
} finally {
  for (const s of subjects) {
    await s.c.quit().catch(() => {});
    try {
      s.child.kill("SIGTERM");
    } catch { /* gone */ }
    await s.child.status;
  }
  await Deno.remove(local, { recursive: true });
}
const tick = 100; // USER_HZ on Linux
const ref = subjects.find((s) => s.name === "reference");
console.log(
  `Tentacle small-file send floor (${FILES} files of 1.5 kB, our client, loopback, ` +
    `${flags.tls ? "mutual TLS" : "plain"})`,
);
console.table(subjects.map((s) => ({
  server: s.name,
  "files/s": Math.round(FILES / s.seconds),
  "server CPU ms/file": Number(((s.cpuTicks * 1000) / tick / FILES).toFixed(3)),
  ...(ref ? { "x reference": Number((ref.seconds / s.seconds).toFixed(2)) } : {}),
})));
console.log(`load average: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
