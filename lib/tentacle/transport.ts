/**
 * Transports: the byte streams sessions and clients run on. This file has the interface and the
 * node:tls / node:net one (used for TLS, whose client certificates Deno.listenTls cannot check);
 * conn_transport.ts has the Deno.Conn one used for plain TCP.
 *
 * The node socket becomes a pull-based chunk source with bounded buffering (reading stops past a
 * high-water mark, so a fast sender cannot fill our memory) and an idle timeout on every read and
 * write, like the reference's select() loops.
 * @module
 */

import type { Socket } from "node:net";
import { ProtocolError } from "../errors/mod.ts";
import { fullGc, loadFullGc } from "../runtime/mod.ts";
import type { ChunkSink, ChunkSource } from "./framing.ts";
import { Watchdog } from "./watchdog.ts";

/** A connection as sessions and clients use it. Reads and writes never run concurrently. */
export interface Transport extends ChunkSource, ChunkSink {
  readonly peer: string;
  /** True when a buffer passed to write() may be reused as soon as write() resolves. */
  readonly reusableWrites: boolean;
  idleMs: number;
  /** Half-closes after pending writes, waits (bounded) for the peer, then closes. */
  end(): Promise<void>;
  /** Drops the connection at once. */
  destroy(): void;
}

/** No byte arrived (or none could be written) within the idle timeout. */
export class IdleTimeoutError extends ProtocolError {
  override name = "IdleTimeoutError";
}

/**
 * A command line or a body did not arrive (or could not be sent) within its overall deadline,
 * although every single read made progress: a slow client (one byte a second) holding a slot.
 */
export class DeadlineError extends IdleTimeoutError {
  override name = "DeadlineError";
}

/** The connection was closed or reset while we waited. */
export class ConnectionClosedError extends ProtocolError {
  override name = "ConnectionClosedError";
}

const HIGH_WATER = 256 * 1024;

/**
 * node:tls in Deno hands every decrypted record to JS in a fresh buffer, and V8 frees such buffers
 * late: a 100 MB upload raised the RSS by ~200 MB. Asking for a collection after every few MiB of
 * TLS traffic keeps it flat for a few ms of CPU per collection. Best effort: without the hook
 * (some embedding without node:vm), nothing happens.
 */
const GC_EVERY = 4 * 1024 * 1024;
// Looked up as the module loads (node:v8 and node:vm, unless V8's gc is exposed): this module
// is loaded only by the Tentacle server and client, which use node:tls anyway.
await loadFullGc();
const GC_MIN_INTERVAL_MS = 20;
let sinceCollect = 0;
let lastCollect = 0;

function noteGarbage(bytes: number): void {
  sinceCollect += bytes;
  if (sinceCollect < GC_EVERY) return;
  const now = performance.now();
  if (now - lastCollect < GC_MIN_INTERVAL_MS) return;
  sinceCollect = 0;
  lastCollect = now;
  fullGc()?.();
}

/** Wraps a connected node socket. `idleMs` bounds each wait for data or for buffer space. */
export class SocketTransport implements Transport {
  readonly socket: Socket;
  readonly peer: string;
  readonly reusableWrites = false;
  idleMs: number;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #needDrain = false;

  constructor(socket: Socket, opts: { idleMs: number }) {
    this.socket = socket;
    this.idleMs = opts.idleMs;
    this.peer = socket.remoteAddress ?? "?";
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      noteGarbage(chunk.length);
      if (this.#queued >= HIGH_WATER) this.#pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (e: Error) => {
      this.#error ??= e;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#error ??= new ConnectionClosedError("connection closed");
      this.#watchdog.stop();
      this.#notify();
    });
    socket.on("drain", () => {
      this.#needDrain = false;
      this.#notify();
    });
  }

  #paused = false;

  // Deno's TLSSocket keeps reading from TCP while paused (its queue grew to 55 MB in a test), so
  // the TCP handle under it is stopped too. Internal API, used only when present.
  #native(): { readStop?: () => void; readStart?: () => void } | undefined {
    const handle = (this.socket as unknown as { _handle?: { _nativeTcpHandle?: unknown } })._handle;
    return handle?._nativeTcpHandle as
      | { readStop?: () => void; readStart?: () => void }
      | undefined;
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
    this.#native()?.readStop?.();
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#native()?.readStart?.();
    this.socket.resume();
  }

  #notify() {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Waits for any socket event, or fails after the idle timeout. */
  #wait(what: string): Promise<void> {
    this.#watchdog.arm(performance.now() + this.idleMs);
    return new Promise((resolve, reject) => {
      this.#wake = () => {
        this.#watchdog.disarm();
        resolve();
      };
      this.#expire = () => {
        this.#wake = null;
        this.#watchdog.disarm();
        reject(new IdleTimeoutError(`timed out after ${this.idleMs} ms waiting to ${what}`));
      };
    });
  }

  // One watchdog timer per connection rather than one per wait (watchdog.ts).
  #expire: (() => void) | null = null;
  readonly #watchdog = new Watchdog(() => this.#expire?.());

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk) {
        this.#queued -= chunk.length;
        if (this.#queued < HIGH_WATER / 2 && this.#paused) this.#resume();
        return chunk;
      }
      // Data queued before an error is still delivered; a clean FIN reads as end of stream.
      if (this.#ended && (this.#error === null || this.#error instanceof ConnectionClosedError)) {
        return null;
      }
      if (this.#error) throw wrap(this.#error);
      await this.#wait("read");
    }
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#error) throw wrap(this.#error);
    if (this.socket.destroyed) throw new ConnectionClosedError("connection closed");
    noteGarbage(data.length);
    if (this.socket.write(data)) return;
    this.#needDrain = true;
    while (this.#needDrain) {
      if (this.#error) throw wrap(this.#error);
      await this.#wait("write");
    }
  }

  /** Half-closes after pending writes, then lets the peer close (bounded by the idle timeout). */
  async end(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    this.socket.end();
    this.#resume();
    const timer = setTimeout(() => this.socket.destroy(), this.idleMs);
    await closed;
    clearTimeout(timer);
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#error ??= new ConnectionClosedError("connection aborted");
    this.socket.destroy();
    this.#notify();
  }
}

function wrap(e: Error): Error {
  if (e instanceof ProtocolError) return e;
  return new ConnectionClosedError(`connection error: ${e.message}`, undefined, { cause: e });
}
