/**
 * TCP plumbing for the line-protocol checks (ssh, smtp) and the plain tcp check: line framing over
 * any byte source, and a connection whose lifetime is bound to the check's abort signal.
 * @module
 */
import type { CheckContext, CheckOutcome } from "./types.ts";
import { abortText, errorText, fail, hostPort } from "./util.ts";

/** Anything `read`-able like a `Deno.Conn`; lets the framing be tested from in-memory bytes. */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/**
 * Reads `\n`-terminated lines (a trailing `\r` is dropped). A line longer than `maxLine` bytes is
 * returned cut at `maxLine`, and the rest of it comes back as the next line: a banner check only
 * looks at the start, and this bounds memory against a peer that never sends a newline.
 */
export class LineReader {
  #buf = new Uint8Array(0);
  #eof = false;
  readonly #decoder = new TextDecoder();

  constructor(readonly source: ByteSource, readonly maxLine = 1024) {}

  /** The next line, or null at end of stream with nothing buffered (a partial last line is returned). */
  async readLine(): Promise<string | null> {
    while (true) {
      const nl = this.#buf.indexOf(0x0a);
      if (nl >= 0 && nl <= this.maxLine) return this.#take(nl, nl + 1);
      if (this.#buf.length >= this.maxLine) return this.#take(this.maxLine, this.maxLine);
      if (this.#eof) {
        return this.#buf.length > 0 ? this.#take(this.#buf.length, this.#buf.length) : null;
      }
      const chunk = new Uint8Array(4096);
      const n = await this.source.read(chunk);
      if (n === null) this.#eof = true;
      else this.#buf = concat(this.#buf, chunk.subarray(0, n));
    }
  }

  #take(end: number, consume: number): string {
    let line = this.#buf.subarray(0, end);
    if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
    const s = this.#decoder.decode(line);
    this.#buf = this.#buf.slice(consume);
    return s;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** An open connection handed to a {@link withTcp} callback. */
export interface TcpSession {
  conn: Deno.TcpConn;
  lines: LineReader;
  /** `host:port` for messages. */
  where: string;
  /** `performance.now()` before connecting. */
  t0: number;
  /** Milliseconds the connect took. */
  connectMs: number;
  /** Writes a string, ignoring errors: used for polite goodbyes that must not change the outcome. */
  tryWrite(s: string): Promise<void>;
}

/**
 * Connects to `ctx.host:port`, runs `talk`, and always closes the socket. The socket is closed
 * as soon as `ctx.signal` aborts, which makes any pending read fail at once; connect and I/O
 * errors become a FAIL outcome naming `host:port`, so this never throws.
 * `doing` names what `talk` waits for, e.g. "the SSH banner", for the timeout message.
 */
export async function withTcp(
  ctx: CheckContext,
  port: number,
  doing: string,
  talk: (s: TcpSession) => Promise<CheckOutcome>,
): Promise<CheckOutcome> {
  const where = hostPort(ctx.host, port);
  const t0 = performance.now();
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: ctx.host, port, signal: ctx.signal });
  } catch (e) {
    if (ctx.signal.aborted) return fail(`${abortText(ctx)} connecting to ${where}`);
    return fail(`cannot connect to ${where}: ${errorText(e)}`);
  }
  const connectMs = performance.now() - t0;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed by the peer side of a failed write */ }
  };
  ctx.signal.addEventListener("abort", close, { once: true });
  if (ctx.signal.aborted) close();
  const enc = new TextEncoder();
  const session: TcpSession = {
    conn,
    lines: new LineReader(conn),
    where,
    t0,
    connectMs,
    async tryWrite(s) {
      if (closed) return;
      try {
        await conn.write(enc.encode(s));
      } catch { /* the peer may already be gone; a goodbye is best effort */ }
    },
  };
  try {
    return await talk(session);
  } catch (e) {
    if (ctx.signal.aborted) return fail(`${abortText(ctx)} waiting for ${doing} from ${where}`);
    return fail(`${where}: error reading ${doing}: ${errorText(e)}`);
  } finally {
    ctx.signal.removeEventListener("abort", close);
    close();
  }
}
