/**
 * The client's plumbing: opening the connection (Deno's own TCP for plain connections, node:tls
 * for TLS) and the hidden temporary files received bodies go to before their atomic rename.
 * @module
 */

import net from "node:net";
import { basename, dirname, join } from "node:path";
import tls from "node:tls";
import { PeerError } from "../errors/mod.ts";
import type { TentacleClientOptions } from "./client_types.ts";
import { ConnTransport } from "./conn_transport.ts";
import { DEFAULT_PORT } from "./protocol.ts";
import { TEMP_PREFIX } from "./storage.ts";
import { SocketTransport, type Transport } from "./transport.ts";

/** A temporary file being received. */
export interface TempFile {
  path: string;
  file: Deno.FsFile;
}

/** A file received by MV or SMV, not yet durable. */
export interface Fetched {
  name: string;
  dest: string;
  tmp: TempFile;
  size: number;
  sha256: string;
}

/**
 * A hidden temporary file next to `dest` (same file system, so the rename is atomic). With the
 * announced `size`, the name records it (`.dmonitor.tmp.<uuid>.size<n>.<name>`), so that after a
 * crash between the last body byte and the rename, the next run can tell a complete download
 * (length n) from a partial one and keep it (see completeTemp).
 */
export async function openTemp(dest: string, size?: number): Promise<TempFile> {
  const tag = `${TEMP_PREFIX}${crypto.randomUUID()}.`;
  const sized = size === undefined ? "" : `size${size}.`;
  const name = new TextEncoder().encode(tag + sized + basename(dest)).length > 255
    ? tag + basename(dest) // too long to annotate: such a temporary file is only ever swept
    : tag + sized + basename(dest);
  const path = join(dirname(dest), name);
  return { path, file: await Deno.open(path, { write: true, read: true, createNew: true }) };
}

const SIZED_TEMP = /^\.dmonitor\.tmp\.[0-9a-f-]{36}\.size(\d+)\.(.+)$/;

/**
 * For a temporary file name written by openTemp with a size: the destination name and the size a
 * complete download has (pure). Null for any other name.
 * @example completeTemp(".dmonitor.tmp.<uuid>.size42.a.1.data") // { name: "a.1.data", size: 42 }
 */
export function completeTemp(entry: string): { name: string; size: number } | null {
  const m = SIZED_TEMP.exec(entry);
  return m ? { name: m[2]!, size: Number(m[1]) } : null;
}

/** Encodes protocol lines, each with its `\\n`. */
export function encodeLines(lines: string[]): Uint8Array {
  return new TextEncoder().encode(lines.map((l) => l + "\n").join(""));
}

/** Closes and removes a temporary file. */
export async function discard(tmp: TempFile): Promise<void> {
  try {
    tmp.file.close();
  } catch { /* already closed */ }
  await Deno.remove(tmp.path).catch(() => {});
}

/** Connects: Deno's own TCP for plain connections (no per-chunk garbage), node:tls for TLS. */
export async function openTransport(
  o: TentacleClientOptions,
  idleMs: number,
  peer: string,
): Promise<Transport> {
  const host = o.host ?? "127.0.0.1";
  const port = o.port ?? DEFAULT_PORT;
  if (!o.tls && o.localAddress === undefined) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = Deno.connect({ hostname: host, port, transport: "tcp" });
    try {
      const conn = await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            connecting.then((c) => c.close(), () => {});
            reject(new PeerError(peer, `Cannot connect to ${peer}: timed out after ${idleMs} ms`));
          }, idleMs);
        }),
      ]);
      return new ConnTransport(conn, { idleMs });
    } catch (e) {
      if (e instanceof PeerError) throw e;
      throw new PeerError(peer, `Cannot connect to ${peer}: ${(e as Error).message}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }
  return new SocketTransport(await openSocket(o, idleMs, peer), { idleMs });
}

async function openSocket(o: TentacleClientOptions, idleMs: number, peer: string) {
  const host = o.host ?? "127.0.0.1";
  const port = o.port ?? DEFAULT_PORT;
  const base = { host, port, localAddress: o.localAddress };
  let socket: net.Socket;
  let ready: string;
  if (o.tls) {
    const t = o.tls === true ? {} : o.tls;
    const read = (p?: string) => p ? Deno.readTextFileSync(p) : undefined;
    socket = tls.connect({
      ...base,
      ca: read(t.caFile),
      cert: read(t.certFile),
      key: read(t.keyFile),
      rejectUnauthorized: t.caFile !== undefined,
      servername: t.servername ?? (net.isIP(host) ? undefined : host),
    });
    ready = "secureConnect";
  } else {
    socket = net.connect(base);
    ready = "connect";
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PeerError(peer, `Cannot connect to ${peer}: timed out after ${idleMs} ms`));
    }, idleMs);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off("error", fail);
      resolve();
    });
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(new PeerError(peer, `Cannot connect to ${peer}: ${e.message}`, { cause: e }));
    };
    socket.once("error", fail);
  });
  return socket;
}
