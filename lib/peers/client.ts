/**
 * The peer client: asks every peer at once, each with its own deadline, and turns anything other
 * than a signed, well-formed, timely reply into an UNREACHABLE vote, never into a delay for the
 * others.
 * @module
 */
import { PeerError, ProtocolError } from "../errors/mod.ts";
import type { Peer } from "../config/types.ts";
import type { IncidentView, PeerAnswer } from "../quorum/types.ts";
import { HEADERS, importPeerKey, randomNonce, signRequest, verifyReply } from "./auth.ts";
import {
  type BatchReply,
  type ConfirmItem,
  parseBatchKnown,
  parseBatchReply,
  parsePeerReply,
  type PeerReply,
  type TargetRequest,
} from "./wire.ts";
import { deadline } from "../clock/mod.ts";

/** The peer answered 503: it is alive but busy, and asks to be asked again after `retryAfterMs`. */
export class PeerBusyError extends ProtocolError {
  override name = "PeerBusyError";
  constructor(readonly retryAfterMs: number) {
    super(`busy, retry after ${retryAfterMs} ms`);
  }
}

/** Retry-After in ms: seconds as the header says (capped at 30 s), else 250 ms. */
export function retryAfterMs(header: string | null): number {
  const s = header === null ? NaN : Number(header);
  return Number.isFinite(s) && s >= 0 ? Math.min(30_000, Math.round(s * 1000)) : 250;
}

export interface PeerClientOptions {
  /** The shared secret (`peer.key`), or an already imported key. */
  key: string | CryptoKey;
  /** This node's name (signed into every request). */
  nodeName: string;
  /** Per-peer deadline for the whole exchange, connect to last byte. */
  deadlineMs: number;
  /** Use https (the peers serve TLS). */
  tls?: boolean;
  /** Custom HTTP client, e.g. from `createPeerHttpClient` for a private CA. */
  client?: Deno.HttpClient;
  fetch?: typeof fetch;
  clock?: () => number;
  nonce?: () => string;
  /** Largest reply accepted (default 64 KiB). */
  maxReplyBytes?: number;
}

/** An HTTP client that trusts the given CA certificates (PEM) for the peers' TLS. */
export function createPeerHttpClient(caCerts: string[]): Deno.HttpClient {
  return Deno.createHttpClient({ caCerts });
}

/** `http://host:port` of a peer (IPv6 bracketed). */
export function peerBaseUrl(p: Pick<Peer, "host" | "port">, tls = false): string {
  const host = p.host.includes(":") ? `[${p.host}]` : p.host;
  return `${tls ? "https" : "http"}://${host}:${p.port}`;
}

/** The node name a peer signs with and is addressed by: its nodes.txt name, else its host. */
export function peerName(p: Pick<Peer, "host" | "name">): string {
  return p.name ?? p.host;
}

/** How a peer is named in answers and logs: the nodes.txt line as written. */
export function peerLabel(p: Pick<Peer, "host" | "port" | "raw">): string {
  return p.raw || `${p.host}:${p.port}`;
}

const enc = new TextEncoder();

/**
 * Sends one signed request and returns the verified, parsed JSON reply. Throws PeerError (with the
 * cause) for anything else. Honours the deadline even if the transport does not.
 */
export async function callPeer(
  peer: Pick<Peer, "host" | "port" | "raw" | "name">,
  method: "GET" | "POST",
  path: string,
  payload: unknown,
  o: PeerClientOptions & { cryptoKey: CryptoKey },
): Promise<{ node: string; json: unknown }> {
  const label = peerLabel(peer);
  // Disposed when the call is over, so a fast reply leaves no timer behind (lib/clock/deadline.ts).
  using limit = deadline(o.deadlineMs);
  const signal = limit.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new PeerError(label, `no answer within ${o.deadlineMs} ms`)),
      o.deadlineMs + 50,
    );
  });
  try {
    return await Promise.race([exchange(), late]);
  } catch (err) {
    if (err instanceof PeerError) throw err;
    if (err instanceof PeerBusyError) throw new PeerError(label, err.message, { cause: err });
    const why = signal.aborted ? `no answer within ${o.deadlineMs} ms` : explain(err);
    throw new PeerError(label, why, { cause: err });
  } finally {
    clearTimeout(timer);
  }

  async function exchange(): Promise<{ node: string; json: unknown }> {
    const body = payload === undefined ? new Uint8Array() : enc.encode(JSON.stringify(payload));
    const nonce = (o.nonce ?? randomNonce)();
    const headers = await signRequest(o.cryptoKey, {
      method,
      path,
      node: o.nodeName,
      to: peerName(peer),
      body,
      now: (o.clock ?? Date.now)(),
      nonce,
    });
    const res = await (o.fetch ?? fetch)(peerBaseUrl(peer, o.tls) + path, {
      method,
      headers: method === "POST" ? { ...headers, "content-type": "application/json" } : headers,
      body: method === "POST" ? body as BodyInit : undefined,
      signal,
      redirect: "manual",
      ...(o.client ? { client: o.client } : {}),
    } as RequestInit);
    const raw = await readCapped(res, o.maxReplyBytes ?? 64 * 1024);
    if (res.status === 503) throw new PeerBusyError(retryAfterMs(res.headers.get("retry-after")));
    if (res.status !== 200) throw new ProtocolError(`answered HTTP ${res.status}`);
    const node = res.headers.get(HEADERS.node) ?? "";
    const signature = res.headers.get(HEADERS.signature) ?? "";
    if (!(await verifyReply(o.cryptoKey, { nonce, status: 200, node, body: raw, signature }))) {
      throw new ProtocolError("reply is not signed with our peer.key");
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
    } catch {
      throw new ProtocolError("reply is not valid JSON");
    }
    return { node, json };
  }
}

/** Reads a body, refusing more than `max` bytes. */
async function readCapped(res: Response, max: number): Promise<Uint8Array> {
  if (res.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new ProtocolError(`reply larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function keyOf(o: PeerClientOptions): Promise<CryptoKey> {
  return typeof o.key === "string" ? await importPeerKey(o.key) : o.key;
}

/**
 * Asks every peer about a host+test at once: `confirm` (they run the check) or `view` (they only
 * report their state). Resolves within the deadline with one answer per peer, in order.
 * @example
 * const answers = await askPeers(config.peers, { host, test }, { key, nodeName, deadlineMs: 12000 });
 */
export async function askPeers(
  peers: readonly Peer[],
  target: TargetRequest,
  o: PeerClientOptions,
  mode: "confirm" | "view" = "confirm",
): Promise<PeerAnswer[]> {
  const cryptoKey = await keyOf(o);
  const clock = o.clock ?? Date.now;
  return Promise.all(peers.map(async (peer): Promise<PeerAnswer> => {
    const label = peerLabel(peer);
    const t0 = performance.now();
    try {
      const { node, json } = await callPeer(peer, "POST", `/v1/${mode}`, target, {
        ...o,
        cryptoKey,
      });
      const r: PeerReply = parsePeerReply(json, target);
      if (r.node !== node) {
        throw new ProtocolError(`reply names node "${r.node}" but was signed as "${node}"`);
      }
      return {
        peer: label,
        node: r.node,
        vote: { node: r.node, status: r.status, output: r.output, at: r.at },
        incident: r.incident,
        latencyMs: performance.now() - t0,
      };
    } catch (err) {
      const error = describe(err);
      return {
        peer: label,
        node: null,
        vote: { node: label, status: "UNREACHABLE", output: error, at: clock() },
        incident: null,
        error,
        latencyMs: performance.now() - t0,
      };
    }
  }));
}

/** Pushes this node's view of an incident to every peer; resolves to the peers that failed. */
export async function announceToPeers(
  peers: readonly Peer[],
  view: IncidentView,
  o: PeerClientOptions,
): Promise<{ peer: string; error: string }[]> {
  const cryptoKey = await keyOf(o);
  const results = await Promise.all(peers.map(async (peer) => {
    try {
      await callPeer(peer, "POST", "/v1/incident", view, { ...o, cryptoKey });
      return null;
    } catch (err) {
      return { peer: peerLabel(peer), error: describe(err) };
    }
  }));
  return results.filter((r) => r !== null);
}

/** Largest batch reply accepted: 1,000 answers with their incident views. */
export const MAX_BATCH_REPLY_BYTES = 8 * 1024 * 1024;

/** `POST /v1/batch/confirm` to one peer: one answer per item, in order. Throws PeerError (a
 * PeerBusyError cause when the peer is busy). */
export async function confirmBatch(
  peer: Pick<Peer, "host" | "port" | "raw">,
  items: readonly ConfirmItem[],
  waitMs: number,
  o: PeerClientOptions & { cryptoKey: CryptoKey },
): Promise<BatchReply> {
  return await batchCall(peer, "/v1/batch/confirm", { items, waitMs }, items, o);
}

/** `POST /v1/batch/view` to one peer. */
export async function viewBatch(
  peer: Pick<Peer, "host" | "port" | "raw">,
  items: readonly TargetRequest[],
  o: PeerClientOptions & { cryptoKey: CryptoKey },
): Promise<BatchReply> {
  const bare = items.map(({ host, test }) => ({ host, test }));
  return await batchCall(peer, "/v1/batch/view", { items: bare }, items, o);
}

/** `POST /v1/batch/incident` to one peer: whether each view's test is configured there. */
export async function announceBatch(
  peer: Pick<Peer, "host" | "port" | "raw">,
  views: readonly IncidentView[],
  o: PeerClientOptions & { cryptoKey: CryptoKey },
): Promise<{ node: string; known: boolean[] }> {
  const { node, json } = await callPeer(peer, "POST", "/v1/batch/incident", { views }, o);
  const r = parseBatchKnown(json, views.length);
  if (r.node !== node) {
    throw new ProtocolError(`reply names node "${r.node}" but was signed as "${node}"`);
  }
  return r;
}

/** `POST /v1/batch/ping`: the heartbeat. Resolves with the node name the peer signed as and its
 * whole reply (which may carry fields other parts add, such as the configuration digest). */
export async function pingPeer(
  peer: Pick<Peer, "host" | "port" | "raw">,
  o: PeerClientOptions & { cryptoKey: CryptoKey },
): Promise<{ node: string; json: unknown }> {
  const { node, json } = await callPeer(peer, "POST", "/v1/batch/ping", {}, o);
  const named = (json as { node?: unknown } | null)?.node;
  if (named !== node) {
    throw new ProtocolError(`reply names node "${named}" but was signed as "${node}"`);
  }
  return { node, json };
}

async function batchCall(
  peer: Pick<Peer, "host" | "port" | "raw">,
  path: string,
  payload: unknown,
  expect: readonly TargetRequest[],
  o: PeerClientOptions & { cryptoKey: CryptoKey },
): Promise<BatchReply> {
  const { node, json } = await callPeer(peer, "POST", path, payload, {
    ...o,
    maxReplyBytes: o.maxReplyBytes ?? MAX_BATCH_REPLY_BYTES,
  });
  const r = parseBatchReply(json, expect);
  if (r.node !== node) {
    throw new ProtocolError(`reply names node "${r.node}" but was signed as "${node}"`);
  }
  return r;
}

/** An error's message with its causes ("fetch failed: invalid peer certificate: UnknownIssuer"). */
function explain(err: unknown): string {
  const parts: string[] = [];
  for (
    let e: unknown = err;
    e !== undefined && parts.length < 4;
    e = (e as { cause?: unknown }).cause
  ) {
    parts.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(": ");
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
