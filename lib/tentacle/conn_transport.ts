/**
 * A plain TCP connection (Deno.Conn) as a chunk source and sink. Reads go into one reused buffer
 * and writes complete before they resolve, so a transfer of any size allocates nothing per chunk:
 * the server's memory stays flat (node:net allocates a fresh buffer for every read, which V8
 * collects late). Every read and write is bounded by the idle timeout.
 * @module
 */

import type { Transport } from "./transport.ts";
import { ConnectionClosedError, IdleTimeoutError } from "./transport.ts";
import { Watchdog } from "./watchdog.ts";

const BUFFER = 64 * 1024;

export class ConnTransport implements Transport {
  readonly conn: Deno.TcpConn;
  readonly peer: string;
  readonly reusableWrites = true;
  idleMs: number;
  #buf = new Uint8Array(BUFFER);
  #closed = false;
  #readDone = false;

  constructor(conn: Deno.TcpConn, opts: { idleMs: number }) {
    this.conn = conn;
    this.idleMs = opts.idleMs;
    this.peer = conn.remoteAddr.hostname;
    try {
      conn.setNoDelay(true);
    } catch { /* not fatal */ }
  }

  // One watchdog timer per connection (watchdog.ts); past a step's deadline the connection is
  // closed, which also ends the step.
  #timedOut = false;
  readonly #watchdog = new Watchdog(() => {
    this.#timedOut = true;
    this.destroy();
  });

  /** Runs an I/O step; on timeout the connection is closed, which also cancels the step. */
  async #timed<T>(what: string, step: Promise<T>): Promise<T> {
    this.#watchdog.arm(performance.now() + this.idleMs);
    try {
      return await step;
    } catch (e) {
      if (this.#timedOut) {
        throw new IdleTimeoutError(`timed out after ${this.idleMs} ms waiting to ${what}`);
      }
      if (this.#closed) {
        throw new ConnectionClosedError("connection closed", undefined, { cause: e });
      }
      throw new ConnectionClosedError(`connection error: ${(e as Error).message}`, undefined, {
        cause: e,
      });
    } finally {
      this.#watchdog.disarm();
    }
  }

  /** The next chunk, valid until the following read; null at end of stream. */
  async read(): Promise<Uint8Array | null> {
    if (this.#readDone) return null;
    if (this.#closed) throw new ConnectionClosedError("connection closed");
    const n = await this.#timed("read", this.conn.read(this.#buf));
    if (n === null) {
      this.#readDone = true;
      return null;
    }
    return this.#buf.subarray(0, n);
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#closed) throw new ConnectionClosedError("connection closed");
    let off = 0;
    while (off < data.length) {
      off += await this.#timed("write", this.conn.write(data.subarray(off)));
    }
  }

  /** Half-closes, waits (bounded) for the peer to close, then closes. */
  async end(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.conn.closeWrite();
      // Drain until the peer closes, but not forever: a peer that keeps talking is cut off.
      const deadline = Date.now() + this.idleMs;
      let drained = 0;
      while (!this.#readDone && Date.now() < deadline && drained < 1 << 20) {
        drained += (await this.read())?.length ?? 0;
      }
    } catch { /* timed out or reset: close anyway */ }
    this.destroy();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdog.stop();
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}
