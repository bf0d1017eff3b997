/**
 * Authentication between peers: every request carries an HMAC-SHA256 (WebCrypto), keyed with the
 * shared `peer.key`, over method, path, sender, receiver, timestamp, nonce and the SHA-256 of the
 * body. The receiver checks a bounded clock skew, the signature (constant time), that the request
 * was meant for it, that the sender is one of its configured peers, and a nonce cache. Replies
 * are signed too, bound to the request's nonce, so a peer's vote cannot be forged or replayed on
 * the way back either.
 * @module
 */
import { constantTimeEqual } from "../secret/mod.ts";
import { NonceCache } from "./nonce_cache.ts";

export const HEADERS = {
  node: "x-dmonitor-node",
  to: "x-dmonitor-to",
  timestamp: "x-dmonitor-timestamp",
  nonce: "x-dmonitor-nonce",
  signature: "x-dmonitor-signature",
} as const;

const enc = new TextEncoder();

import { AuthError, type AuthReason } from "../errors/mod.ts";
export { AuthError, type AuthReason };

/** Imports the shared secret (the trimmed contents of `peer.key`) as an HMAC-SHA256 key. */
export function importPeerKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource)));
}

async function hmac(key: CryptoKey, text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
}

/** The exact text a request signature covers. */
export function requestText(
  r: {
    method: string;
    path: string;
    node: string;
    to: string;
    timestamp: string;
    nonce: string;
    bodyHash: string;
  },
): string {
  return [
    "dmonitor-req-v2",
    r.method.toUpperCase(),
    r.path,
    r.node,
    r.to,
    r.timestamp,
    r.nonce,
    r.bodyHash,
  ]
    .join("\n");
}

/** The exact text a reply signature covers: bound to the request's nonce and the reply status. */
export function replyText(
  r: { nonce: string; status: number; node: string; bodyHash: string },
): string {
  return ["dmonitor-res-v1", r.nonce, String(r.status), r.node, r.bodyHash].join("\n");
}

/** A fresh random nonce: 16 bytes as hex. */
export function randomNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** Headers that authenticate one request. */
export async function signRequest(
  key: CryptoKey,
  r: {
    method: string;
    path: string;
    /** The sender (this node). */
    node: string;
    /** The receiver's node name: a request signed for one node is refused by every other. */
    to: string;
    body: Uint8Array;
    now: number;
    nonce: string;
  },
): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(r.now));
  const bodyHash = await sha256Hex(r.body);
  const sig = await hmac(key, requestText({ ...r, timestamp, bodyHash }));
  return {
    [HEADERS.node]: r.node,
    [HEADERS.to]: r.to,
    [HEADERS.timestamp]: timestamp,
    [HEADERS.nonce]: r.nonce,
    [HEADERS.signature]: toHex(sig),
  };
}

/** The signature header value of a reply. */
export async function signReply(
  key: CryptoKey,
  r: { nonce: string; status: number; node: string; body: Uint8Array },
): Promise<string> {
  return toHex(await hmac(key, replyText({ ...r, bodyHash: await sha256Hex(r.body) })));
}

/** Checks a reply's signature (constant time). */
export async function verifyReply(
  key: CryptoKey,
  r: { nonce: string; status: number; node: string; body: Uint8Array; signature: string },
): Promise<boolean> {
  const got = fromHex(r.signature);
  if (got === null) return false;
  const want = await hmac(key, replyText({ ...r, bodyHash: await sha256Hex(r.body) }));
  return constantTimeEqual(got, want);
}

const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const NONCE_RE = /^[A-Za-z0-9_-]{16,64}$/;
const SIG_RE = /^[0-9a-f]{64}$/;

export interface VerifierOptions {
  key: CryptoKey | null;
  /** Largest accepted difference between the sender's timestamp and our clock (default 30 s). */
  skewMs?: number;
  /** Most nonces remembered at once (default 100,000, about 10 MB). */
  maxNonces?: number;
}

/** An authentic request whose timestamp is outside the accepted skew: the sender's clock is off. */
export class StaleRequestError extends AuthError {
  override name = "StaleRequestError";
  constructor(
    /** The sender, when nodes.txt lists it (else null: nothing to show). */
    readonly sender: string | null,
    /** Sender's timestamp minus this node's clock, ms. */
    readonly skewMs: number,
    message: string,
  ) {
    super("stale", message);
  }
}

/** Who this node is and whom it hears, asked per request (a reload can change them). */
export interface Audience {
  /** Names a request may be addressed to: this node's name (and the address it was reached on). */
  self: readonly string[];
  /** Senders this node knows from nodes.txt. */
  senders: readonly string[];
}

/** Verifies signed requests; one instance per endpoint (it owns the nonce cache). */
export class RequestVerifier {
  readonly #key: CryptoKey | null;
  readonly #skewMs: number;
  readonly #nonces: NonceCache;

  constructor(o: VerifierOptions) {
    this.#key = o.key;
    this.#skewMs = o.skewMs ?? 30_000;
    // A nonce must outlive every timestamp that would still be accepted with it.
    this.#nonces = new NonceCache({ ttlMs: 2 * this.#skewMs + 1000, max: o.maxNonces ?? 100_000 });
  }

  /** Nonces remembered now (bounded by `maxNonces`). */
  get nonces(): number {
    return this.#nonces.size;
  }

  /** Resolves to the sender's node name and nonce, or throws AuthError naming the reason. */
  async verify(
    r: { method: string; path: string; headers: Headers; body: Uint8Array },
    now: number,
    audience: Audience,
  ): Promise<{ node: string; nonce: string }> {
    if (this.#key === null) throw new AuthError("no-key", "this node has no peer.key");
    const h = (name: string) => r.headers.get(name);
    const node = h(HEADERS.node),
      to = h(HEADERS.to),
      timestamp = h(HEADERS.timestamp),
      nonce = h(HEADERS.nonce);
    const signature = h(HEADERS.signature);
    if (
      node === null || to === null || timestamp === null || nonce === null || signature === null
    ) {
      throw new AuthError("unsigned", "missing authentication headers");
    }
    if (
      !NODE_RE.test(node) || !NODE_RE.test(to) || !/^\d{1,16}$/.test(timestamp) ||
      !NONCE_RE.test(nonce) ||
      !SIG_RE.test(signature)
    ) {
      throw new AuthError("malformed", "malformed authentication headers");
    }
    // The signature first: a stale request that is authentic tells how far the sender's clock is
    // off (StaleRequestError), which the views show; a forged one tells nothing.
    const bodyHash = await sha256Hex(r.body);
    const want = await hmac(
      this.#key,
      requestText({ method: r.method, path: r.path, node, to, timestamp, nonce, bodyHash }),
    );
    if (!constantTimeEqual(fromHex(signature)!, want)) {
      throw new AuthError("forged", "bad signature");
    }
    const skew = Number(timestamp) - now;
    if (Math.abs(skew) > this.#skewMs) {
      throw new StaleRequestError(
        audience.senders.includes(node) ? node : null,
        skew,
        `timestamp ${skew > 0 ? "ahead" : "behind"} by ${Math.abs(skew)} ms`,
      );
    }
    // A key holder replaying a request meant for another node, or speaking under a name that our
    // nodes.txt does not list (a decommissioned node, another cluster with the same key, a name
    // chosen to win the notifier election), is refused.
    if (!audience.self.includes(to)) {
      throw new AuthError(
        "misdirected",
        `signed for node "${to}", this node is "${audience.self[0] ?? ""}"`,
      );
    }
    if (!audience.senders.includes(node)) {
      throw new AuthError(
        "unknown-sender",
        `sender "${node}" is not a peer in nodes.txt (a line "ADDRESS ${node}" names it)`,
      );
    }
    const seen = this.#nonces.check(nonce, now);
    if (seen === "replayed") throw new AuthError("replayed", "nonce already used");
    if (seen === "full") throw new AuthError("overloaded", "nonce cache full");
    return { node, nonce };
  }
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function fromHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
