/**
 * The peer API of configuration agreement: `GET /v1/config` (signed) answers this node's
 * {@link TreeSummary}; the heartbeat reply carries only its digest. A reply is checked field by
 * field and its digest recomputed, so a peer cannot report entries that do not match its digest.
 * @module
 */
import { ProtocolError } from "../errors/mod.ts";
import { digestOf, type Entry, type TreeSummary } from "./digest.ts";

export const CONFIG_PATH = "/v1/config";

/** Largest `GET /v1/config` reply read (about 40,000 tests). */
export const MAX_CONFIG_REPLY_BYTES = 16 * 1024 * 1024;

const DIGEST_RE = /^[0-9a-f]{16}$/;

/** The digest a heartbeat reply carries, or null (an older peer, or a malformed one). */
export function digestFromPing(json: unknown): string | null {
  const d = (json as { configDigest?: unknown } | null)?.configDigest;
  return typeof d === "string" && DIGEST_RE.test(d) ? d : null;
}

const bad = (what: string, v: unknown): never => {
  throw new ProtocolError(`'${what}' is malformed, got ${JSON.stringify(v)?.slice(0, 80)}`);
};

/** Validates a `GET /v1/config` reply: digest, entries, and that the digest matches them. */
export function parseConfigReply(v: unknown): TreeSummary & { node: string } {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== "object" || o === null) bad("reply", v);
  const node = o!.node, digest = o!.digest, raw = o!.entries;
  if (typeof node !== "string" || node.length === 0 || node.length > 128) bad("node", node);
  if (typeof digest !== "string" || !DIGEST_RE.test(digest)) bad("digest", digest);
  if (!Array.isArray(raw) || raw.length > 200_000) bad("entries", raw);
  const entries: Entry[] = (raw as unknown[]).map((e, i) => {
    const x = e as { key?: unknown; fields?: unknown } | null;
    if (typeof x?.key !== "string" || x.key.length === 0 || x.key.length > 400) {
      bad(`entries[${i}].key`, x?.key);
    }
    const f = x!.fields;
    if (typeof f !== "object" || f === null || Array.isArray(f)) bad(`entries[${i}].fields`, f);
    const fields: Record<string, string> = {};
    for (const [k, val] of Object.entries(f as object)) {
      if (typeof val !== "string" || val.length > 4096 || k.length > 100) {
        bad(`entries[${i}].fields.${k}`, val);
      }
      fields[k] = val as string;
    }
    return { key: x!.key as string, fields };
  });
  const actual = digestOf(entries);
  if (actual !== digest) {
    throw new ProtocolError(`reply digest ${digest} does not match its entries (${actual})`);
  }
  return { node: node as string, digest: digest as string, entries };
}
