/**
 * Framing: lines ending in `\n` and raw bodies of announced length, read from any chunk source.
 * Pure with respect to sockets, so codec tests feed it bytes from memory.
 * @module
 */

import { ProtocolError } from "../errors/mod.ts";

/** Something that yields byte chunks; `null` means end of stream. */
export interface ChunkSource {
  read(): Promise<Uint8Array | null>;
}

/** Something that accepts bytes, resolving once it can take more. */
export interface ChunkSink {
  write(data: Uint8Array): Promise<void>;
}

/** A line longer than the limit arrived; the connection cannot be resynchronised. */
export class LineTooLongError extends ProtocolError {
  override name = "LineTooLongError";
}

/** The stream ended inside a line or a body. */
export class UnexpectedEofError extends ProtocolError {
  override name = "UnexpectedEofError";
}

const NL = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A body cut short: how much of it came. */
function bodyEof(n: number, left: number): UnexpectedEofError {
  return new UnexpectedEofError(`connection closed after ${n - left} of ${n} body bytes`);
}

/** Reads lines and bodies from a chunk source, keeping at most one chunk plus one line buffered. */
export class FrameReader {
  #src: ChunkSource;
  #chunk: Uint8Array = new Uint8Array(0);
  #eof = false;
  readonly maxLine: number;

  constructor(src: ChunkSource, opts: { maxLine?: number } = {}) {
    this.#src = src;
    this.maxLine = opts.maxLine ?? 1024;
  }

  /** Bytes received but not consumed yet (pipelined input). */
  get buffered(): number {
    return this.#chunk.length;
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const next = await this.#src.read();
    if (next === null) {
      this.#eof = true;
      return false;
    }
    this.#chunk = next;
    return true;
  }

  /**
   * The next line without its `\n` (and without one trailing `\r`: we are lenient), or null at a
   * clean end of stream. Throws LineTooLongError past `maxLine` bytes, UnexpectedEofError when the
   * stream ends inside a line.
   */
  async readLine(): Promise<string | null> {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (;;) {
      const i = this.#chunk.indexOf(NL);
      if (i >= 0) {
        if (length + i > this.maxLine) throw this.#tooLong(length + i);
        parts.push(this.#chunk.subarray(0, i));
        this.#chunk = this.#chunk.subarray(i + 1);
        return decodeLine(parts, length + i);
      }
      length += this.#chunk.length;
      if (length > this.maxLine) throw this.#tooLong(length);
      // Copy: the chunk may be a view into a buffer the source reuses.
      if (this.#chunk.length > 0) parts.push(this.#chunk.slice());
      this.#chunk = new Uint8Array(0);
      if (!(await this.#fill())) {
        if (length === 0) return null;
        throw new UnexpectedEofError(`connection closed inside a line (${length} bytes)`);
      }
    }
  }

  #tooLong(n: number): LineTooLongError {
    return new LineTooLongError(`line longer than ${this.maxLine} bytes (at least ${n})`);
  }

  /**
   * Passes exactly `n` bytes to `sink` in chunks (views valid until `sink` returns, or its promise
   * settles); throws on early EOF. The server's SEND path: unlike readBody's async generator, no
   * promise per chunk beyond the reads themselves, and none at all for bytes already buffered.
   */
  async readBodyTo(n: number, sink: (piece: Uint8Array) => void | Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.#chunk.length === 0 && !(await this.#fill())) throw bodyEof(n, left);
      const piece = this.#take(left);
      left -= piece.length;
      const pending = sink(piece);
      if (pending) await pending;
    }
  }

  /** Up to `max` buffered bytes, taken off the buffer (a view). */
  #take(max: number): Uint8Array {
    const take = Math.min(max, this.#chunk.length);
    const piece = this.#chunk.subarray(0, take);
    this.#chunk = this.#chunk.subarray(take);
    return piece;
  }

  /** Yields exactly `n` bytes in chunks (views valid until the next call); throws on early EOF. */
  async *readBody(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.#chunk.length === 0 && !(await this.#fill())) throw bodyEof(n, left);
      const piece = this.#take(left);
      left -= piece.length;
      yield piece;
    }
  }

  /** Reads exactly `n` bytes into one buffer (for small bodies such as LS answers). */
  async readExactly(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    for await (const piece of this.readBody(n)) {
      out.set(piece, off);
      off += piece.length;
    }
    return out;
  }
}

function decodeLine(parts: Uint8Array[], length: number): string {
  let bytes: Uint8Array;
  if (parts.length === 1) bytes = parts[0]!;
  else {
    bytes = new Uint8Array(length);
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
  }
  if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, -1);
  return decoder.decode(bytes);
}

/** Encodes a protocol line with its `\n`. */
export function encodeLine(line: string): Uint8Array {
  return encoder.encode(line + "\n");
}

/** A chunk source over fixed chunks, for tests and in-memory use. */
export function memorySource(chunks: Iterable<Uint8Array | string>): ChunkSource {
  const it = [...chunks].map((c) => typeof c === "string" ? encoder.encode(c) : c)
    [Symbol.iterator]();
  return {
    read() {
      const r = it.next();
      return Promise.resolve(r.done ? null : r.value);
    },
  };
}

/** A sink collecting everything written, for tests. */
export function memorySink(): ChunkSink & { bytes(): Uint8Array; text(): string } {
  const parts: Uint8Array[] = [];
  const bytes = () => {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  };
  return {
    write(data) {
      parts.push(data.slice());
      return Promise.resolve();
    },
    bytes,
    text: () => decoder.decode(bytes()),
  };
}
