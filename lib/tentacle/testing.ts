/**
 * Test helpers: a server in a temporary directory behind `await using`, and a raw loopback
 * connection (Deno.connect, independent of the node:net code under test) that speaks bytes.
 * @module
 */

import { memoryLogger } from "../log/mod.ts";
import { startTentacleServer, type TentacleServer, type TentacleServerOptions } from "./server.ts";

export const TLS_DIR = new URL("../../testdata/tls/", import.meta.url).pathname;
export const tlsFile = (name: string) => TLS_DIR + name;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A server on 127.0.0.1, port 0, storing into a fresh temporary directory. */
export interface TestServer {
  server: TentacleServer;
  port: number;
  dir: string;
  logs: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startTestServer(
  opts: Partial<TentacleServerOptions> = {},
): Promise<TestServer> {
  const dir = opts.directory ?? await Deno.makeTempDir({ prefix: "tentacle-test-" });
  const logger = memoryLogger();
  let server: TentacleServer;
  try {
    server = await startTentacleServer({
      addresses: ["127.0.0.1"],
      port: 0,
      idleTimeoutMs: 2000,
      closeGraceMs: 1000,
      logger,
      ...opts,
      directory: dir,
    });
  } catch (e) {
    // A server that did not start leaves no temporary directory behind.
    if (!opts.directory) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
  return {
    server,
    port: server.port,
    dir,
    logs: logger.lines,
    async [Symbol.asyncDispose]() {
      await server.close();
      if (!opts.directory) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A fresh temporary directory removed on dispose. */
export async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "tentacle-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** A raw TCP connection reading lines and bodies with a deadline. */
export class Raw {
  conn: Deno.Conn;
  #pending = new Uint8Array(0);
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async open(port: number, hostname = "127.0.0.1"): Promise<Raw> {
    return new Raw(await Deno.connect({ port, hostname }));
  }

  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  async #more(deadline: number): Promise<boolean> {
    if (this.#eof) return false;
    const buf = new Uint8Array(65536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
    });
    try {
      const n = await Promise.race([this.conn.read(buf).catch(() => null), timeout]);
      if (n === "timeout") throw new Error("raw connection: timed out waiting for data");
      if (n === null) {
        this.#eof = true;
        return false;
      }
      const next = new Uint8Array(this.#pending.length + n);
      next.set(this.#pending);
      next.set(buf.subarray(0, n), this.#pending.length);
      this.#pending = next;
      return true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next line without `\n`, or null at end of stream. */
  async line(timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#pending.indexOf(0x0a);
      if (i >= 0) {
        const line = dec.decode(this.#pending.subarray(0, i));
        this.#pending = this.#pending.slice(i + 1);
        return line;
      }
      if (!(await this.#more(deadline))) return null;
    }
  }

  /** Exactly `n` bytes (throws at end of stream). */
  async bytes(n: number, timeoutMs = 5000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.#pending.length < n) {
      if (!(await this.#more(deadline))) throw new Error(`raw connection: EOF before ${n} bytes`);
    }
    const out = this.#pending.slice(0, n);
    this.#pending = this.#pending.slice(n);
    return out;
  }

  /** Resolves true when the server closes the connection without sending anything more. */
  async closedSilently(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (await this.#more(deadline)) { /* keep reading */ }
    return this.#pending.length === 0;
  }

  /** Everything until end of stream, as text. */
  async rest(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (await this.#more(deadline)) { /* keep reading */ }
    const s = dec.decode(this.#pending);
    this.#pending = new Uint8Array(0);
    return s;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Lowercase hex SHA-256 of bytes. */
export async function sha256(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Lists a directory's entries, sorted. */
export async function ls(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

export const text = (s: string) => enc.encode(s);

/** `n` random bytes (getRandomValues gives at most 64 KiB a call). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(out.subarray(off, off + 65536));
  return out;
}
