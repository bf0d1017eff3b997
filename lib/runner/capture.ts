/**
 * Reads a stream to its end while keeping only the first `cap` bytes, so a plugin printing
 * megabytes neither blocks on a full pipe nor grows our memory.
 * @module
 */

export interface Captured {
  /** The first `cap` bytes. */
  bytes: Uint8Array;
  /** Every byte read, including the discarded ones. */
  total: number;
}

export interface Capture {
  /** Settles with what was read once the stream ends, fails or is cancelled; never rejects. */
  done: Promise<Captured>;
  /** Stops reading (e.g. when an escaped process keeps the pipe open); `done` then settles. */
  cancel(): Promise<void>;
}

/**
 * Size of the buffer a byte stream is read into. Deno's default reader allocates 64 KiB per read;
 * at thousands of plugins a second that garbage inflates the heap, and a bigger heap makes every
 * later fork of the runtime slower (see bench/plugin_throughput.ts). One small reused buffer per
 * stream avoids both.
 */
const READ_BUFFER = 8 * 1024;

type Read = () => Promise<Uint8Array | null>;

/** Starts draining `stream`, keeping at most `cap` bytes. */
export function capture(stream: ReadableStream<Uint8Array>, cap: number): Capture {
  const { read, cancel } = reader(stream);
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  const done = (async () => {
    try {
      for (let chunk = await read(); chunk !== null; chunk = await read()) {
        total += chunk.length;
        // Copied: the BYOB buffer is reused by the next read.
        if (kept < cap) {
          const part = chunk.slice(0, cap - kept);
          chunks.push(part);
          kept += part.length;
        }
      }
    } catch {
      // A cancelled or broken stream still yields what arrived before.
    }
    const bytes = new Uint8Array(kept);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.length;
    }
    return { bytes, total };
  })();
  return { done, cancel };
}

/** A BYOB reader over one reused buffer for byte streams, the default reader otherwise. */
function reader(stream: ReadableStream<Uint8Array>): { read: Read; cancel(): Promise<void> } {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    const plain = stream.getReader();
    return {
      read: async () => {
        const { value, done } = await plain.read();
        return done ? null : value;
      },
      cancel: () => plain.cancel().catch(() => {}),
    };
  }
  let buffer = new ArrayBuffer(READ_BUFFER);
  return {
    read: async () => {
      const { value, done } = await byob.read(new Uint8Array(buffer));
      if (done || value === undefined) return null;
      buffer = value.buffer as ArrayBuffer;
      return value;
    },
    cancel: () => byob.cancel().catch(() => {}),
  };
}
