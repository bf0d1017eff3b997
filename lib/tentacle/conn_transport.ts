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

  /** The error a failed read or write becomes: a timeout, our own close, or the peer's. */
  #failure(what: string, e: unknown): Error {
    if (this.#timedOut) {
      return new IdleTimeoutError(`timed out after ${this.idleMs} ms waiting to ${what}`);
    }
    if (this.#closed) {
      return new ConnectionClosedError("connection closed", undefined, { cause: e });
    }
    return new ConnectionClosedError(`connection error: ${(e as Error).message}`, undefined, {
      cause: e,
    });
  }

  // The read and write paths chain the runtime's promise directly (no async wrapper around it):
  // a small SEND makes four of them, and each wrapper level cost a promise and a turn.
  readonly #gotRead = (n: number | null): Uint8Array | null => {
    this.#watchdog.disarm();
    if (n === null) {
      this.#readDone = true;
      return null;
    }
    return this.#buf.subarray(0, n);
  };
  readonly #readFailed = (e: unknown): never => {
    this.#watchdog.disarm();
    throw this.#failure("read", e);
  };
  readonly #writeFailed = (e: unknown): never => {
    this.#watchdog.disarm();
    throw this.#failure("write", e);
  };

  /** The next chunk, valid until the following read; null at end of stream. */
  read(): Promise<Uint8Array | null> {
    if (this.#readDone) return Promise.resolve(null);
    if (this.#closed) return Promise.reject(new ConnectionClosedError("connection closed"));
    // On timeout the watchdog closes the connection, which also ends the read.
    this.#watchdog.arm(performance.now() + this.idleMs);
    return this.conn.read(this.#buf).then(this.#gotRead, this.#readFailed);
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError("connection closed"));
    this.#watchdog.arm(performance.now() + this.idleMs);
    return this.conn.write(data).then((n) => {
      this.#watchdog.disarm();
      // A partial write (a full socket buffer): the rest, under a fresh idle timeout.
      if (n < data.length) return this.write(data.subarray(n));
    }, this.#writeFailed);
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
