/**
 * Real local servers for the check tests, all on 127.0.0.1 port 0, each disposable with
 * `await using`. Nothing here talks to anything but loopback.
 * @module
 */
import dgram from "node:dgram";
import type { ParamValue } from "../config/types.ts";
import type { CheckContext } from "./types.ts";

/**
 * Upper bound for "ends promptly" after an abort of 150-300 ms. Generous on purpose (a loaded CI
 * machine must not flake); it still separates "the abort ended the check" from a hang or from
 * running into a default timeout of several seconds.
 */
export const PROMPT_MS = 2000;

/** Absolute path of a file in testdata/checks. */
export function testdata(name: string): string {
  return new URL(`../../testdata/checks/${name}`, import.meta.url).pathname;
}

/** A check context for `host` with `params`; the signal defaults to a 5 s timeout. */
export function ctxFor(
  host: string,
  params: Record<string, ParamValue> = {},
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): CheckContext {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return { host, params, signal: opts.signal ?? AbortSignal.timeout(timeoutMs), timeoutMs };
}

export interface TestServer extends AsyncDisposable {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
}

/**
 * A TCP server on 127.0.0.1 that runs `handle` for each connection. Disposing it closes the
 * listener and every open connection, then waits for the handlers, so no test leaks a resource.
 */
export function startTcpServer(
  handle: (conn: Deno.TcpConn) => Promise<void>,
  hostname = "127.0.0.1",
): TestServer {
  const listener = Deno.listen({ hostname, port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  const server: TestServer = {
    port: listener.addr.port,
    accepted: 0,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) closeQuietly(c);
      await loop;
      await Promise.allSettled([...tasks]);
    },
  };
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        server.accepted++;
        conns.add(conn);
        const task = handle(conn).catch(() => {}).finally(() => {
          conns.delete(conn);
          closeQuietly(conn);
        });
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch { /* listener closed */ }
  })();
  return server;
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}

const enc = new TextEncoder();

/** Writes `text` to `conn`. */
export async function send(conn: Deno.Conn, text: string): Promise<void> {
  await conn.write(enc.encode(text));
}

/** Reads and discards until the peer closes: a server that accepts and never answers. */
export async function drain(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  while ((await conn.read(buf)) !== null) { /* discard */ }
}

/** Reads until the peer closes and returns everything it sent. */
export async function readAll(conn: Deno.Conn): Promise<string> {
  const dec = new TextDecoder();
  const buf = new Uint8Array(4096);
  let text = "";
  for (let n; (n = await conn.read(buf)) !== null;) {
    text += dec.decode(buf.subarray(0, n), { stream: true });
  }
  return text + dec.decode();
}

/** A port on 127.0.0.1 that was free a moment ago, so connecting to it is refused. */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Answers by name: A and AAAA addresses; absent names get NXDOMAIN. */
export type DnsZone = Record<string, { A?: string[]; AAAA?: string[] }>;

export interface DnsServer extends AsyncDisposable {
  port: number;
  /** Questions received, as `name TYPE` (e.g. `www.test. A`). */
  queries: string[];
}

/**
 * A minimal UDP DNS server on 127.0.0.1 (node:dgram; Deno.listenDatagram is unstable). `silent`
 * makes it swallow every query, to test timeouts.
 */
export async function startDnsServer(
  zone: DnsZone,
  opts: { silent?: boolean } = {},
): Promise<DnsServer> {
  const sock = dgram.createSocket("udp4");
  const queries: string[] = [];
  sock.on("message", (msg: Uint8Array, rinfo: { port: number; address: string }) => {
    const q = parseQuestion(msg);
    if (!q) return;
    queries.push(`${q.name} ${q.type === 1 ? "A" : q.type === 28 ? "AAAA" : q.type}`);
    if (opts.silent) return;
    sock.send(dnsAnswer(msg, q, zone), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", () => resolve()));
  return {
    port: sock.address().port,
    queries,
    async [Symbol.asyncDispose]() {
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    },
  };
}

interface Question {
  name: string;
  type: number;
  /** Offset just past the question section. */
  end: number;
}

function parseQuestion(msg: Uint8Array): Question | null {
  if (msg.length < 17) return null;
  const labels: string[] = [];
  let off = 12;
  while (off < msg.length && msg[off] !== 0) {
    const len = msg[off]!;
    labels.push(new TextDecoder().decode(msg.subarray(off + 1, off + 1 + len)));
    off += 1 + len;
  }
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (off + 5 > msg.length) return null;
  return { name: labels.join(".").toLowerCase() + ".", type: dv.getUint16(off + 1), end: off + 5 };
}

function dnsAnswer(query: Uint8Array, q: Question, zone: DnsZone): Uint8Array {
  const entry = zone[q.name];
  const addrs = q.type === 1 ? entry?.A ?? [] : q.type === 28 ? entry?.AAAA ?? [] : [];
  const rdatas = addrs.map((a) => q.type === 1 ? ipv4Bytes(a) : ipv6Bytes(a));
  const size = q.end + rdatas.reduce((n, r) => n + 12 + r.length, 0);
  const out = new Uint8Array(size);
  out.set(query.subarray(0, q.end));
  const dv = new DataView(out.buffer);
  // QR, RD, RA; rcode 3 (NXDOMAIN) for unknown names. No authority or additional records.
  dv.setUint16(2, 0x8180 | (entry ? 0 : 3));
  dv.setUint16(4, 1);
  dv.setUint16(6, rdatas.length);
  dv.setUint16(8, 0);
  dv.setUint16(10, 0);
  let p = q.end;
  for (const r of rdatas) {
    dv.setUint16(p, 0xc00c); // pointer to the question name
    dv.setUint16(p + 2, q.type);
    dv.setUint16(p + 4, 1);
    dv.setUint32(p + 6, 60);
    dv.setUint16(p + 10, r.length);
    out.set(r, p + 12);
    p += 12 + r.length;
  }
  return out;
}

function ipv4Bytes(a: string): Uint8Array {
  return new Uint8Array(a.split(".").map(Number));
}

function ipv6Bytes(a: string): Uint8Array {
  const [head = "", tail = ""] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = a.includes("::") && tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}
