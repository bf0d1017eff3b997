/**
 * The pure merge of shared records: every node keeps the winner of each key under one total
 * order, so merging is commutative, associative and idempotent and any two nodes that have seen
 * the same records hold the same set whatever the order they arrived in (anti-entropy needs no
 * coordinator). A removed silence beats the live one: removal is final (a new silence gets a new
 * id). Of two acknowledgements of one incident the later wins. Records are dropped once they no
 * longer matter: a silence (live or removed) a day after it would have ended, an acknowledgement
 * 30 days after it was given, so a tombstone always outlives the silence it removes.
 * @module
 */
import { sha256Hex } from "../hash/mod.ts";
import { ProtocolError } from "../errors/mod.ts";
import {
  recordKey,
  type Removal,
  type SharedAck,
  type SharedRecord,
  type SharedSilence,
} from "./types.ts";

/** How long a silence is kept after its end (so a late node cannot bring it back in force). */
export const SILENCE_KEEP_MS = 86_400_000;
/** How long an acknowledgement is kept. */
export const ACK_KEEP_MS = 30 * 86_400_000;
/** Most records a node keeps (silences and acknowledgements); more are refused. */
export const MAX_RECORDS = 5000;
export const MAX_REASON = 1000;
export const MAX_BY = 128;
/** Longest silence accepted. */
export const MAX_SILENCE_MS = 366 * 86_400_000;

/** One canonical text per record (fixed key order): what the digest and the order compare. */
export function canonical(r: SharedRecord): string {
  if (r.kind === "ack") {
    return JSON.stringify([r.kind, r.id, r.host, r.test, r.by, r.origin, r.at, r.reason]);
  }
  const rm = r.removed === null ? null : [r.removed.at, r.removed.by, r.removed.origin];
  return JSON.stringify([
    r.kind,
    r.id,
    r.host,
    r.test,
    r.until,
    r.reason,
    r.by,
    r.origin,
    r.createdAt,
    rm,
  ]);
}

/** The winner of two records of one key. */
export function pick<T extends SharedRecord>(a: T, b: T): T {
  const ca = canonical(a), cb = canonical(b);
  if (ca === cb) return a;
  if (a.kind === "silence" && b.kind === "silence") {
    const ra = a.removed, rb = b.removed;
    if ((ra === null) !== (rb === null)) return ra !== null ? a : b;
    if (ra !== null && rb !== null && ra.at !== rb.at) return ra.at < rb.at ? a : b;
  } else if (a.kind === "ack" && b.kind === "ack" && a.at !== b.at) {
    return a.at > b.at ? a : b;
  }
  return ca > cb ? a : b;
}

/** True when the record no longer matters at `now` and is dropped. */
export function obsolete(r: SharedRecord, now: number): boolean {
  return r.kind === "silence" ? now > r.until + SILENCE_KEEP_MS : now > r.at + ACK_KEEP_MS;
}

/**
 * Merges `incoming` into `held` (keyed by {@link recordKey}); returns the records that won and
 * must be stored. Obsolete records are ignored; a new key beyond {@link MAX_RECORDS} is refused
 * and counted in `refused`.
 */
export function mergeRecords(
  held: ReadonlyMap<string, SharedRecord>,
  incoming: readonly SharedRecord[],
  now: number,
): { changed: SharedRecord[]; refused: number } {
  const changed = new Map<string, SharedRecord>();
  let size = held.size;
  let refused = 0;
  for (const r of incoming) {
    if (obsolete(r, now)) continue;
    const key = recordKey(r);
    const old = changed.get(key) ?? held.get(key);
    if (old === undefined) {
      if (size >= MAX_RECORDS) {
        refused++;
        continue;
      }
      size++;
      changed.set(key, r);
      continue;
    }
    const win = pick(old, r);
    if (win !== old) changed.set(key, win);
  }
  return { changed: [...changed.values()], refused };
}

/** A digest of a set of records: equal on two nodes exactly when they hold the same records. */
export function digest(records: Iterable<SharedRecord>): string {
  const lines = [...records].map((r) => [recordKey(r), canonical(r)] as const)
    .sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
    .map(([, c]) => c);
  return sha256Hex(lines.join("\n"));
}

/** Silences in force at `now` (not removed, not ended), longest first. */
export function liveSilences(records: Iterable<SharedRecord>, now: number): SharedSilence[] {
  return [...records].filter((r): r is SharedSilence =>
    r.kind === "silence" && r.removed === null && now < r.until
  ).sort((a, b) => b.until - a.until || (a.id < b.id ? -1 : 1));
}

// ---- Wire validation: records from a peer or the CLI are checked field by field ----

const NAME = /^[A-Za-z0-9_:][A-Za-z0-9._:-]{0,252}$/;
const ID = /^[0-9a-f]{12}$/;
const INCIDENT_ID = /^[A-Za-z0-9._:\/-]{1,200}$/;
const NODE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,252}$/;

function fail(where: string, what: string, got: unknown): never {
  throw new ProtocolError(`${where}: ${what}, got ${JSON.stringify(got)?.slice(0, 80)}`);
}

function str(o: Record<string, unknown>, key: string, where: string, re: RegExp | number): string {
  const v = o[key];
  if (typeof v !== "string") fail(`${where}.${key}`, "must be a string", v);
  if (typeof re === "number" ? v.length > re : !re.test(v)) {
    fail(`${where}.${key}`, "is not valid", v);
  }
  return v;
}

function time(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    fail(`${where}.${key}`, "must be epoch milliseconds", v);
  }
  return v;
}

function text(o: Record<string, unknown>, key: string, where: string, max: number): string {
  // No control characters: reasons and names reach terminals and logs.
  const v = str(o, key, where, max);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(v)) {
    fail(`${where}.${key}`, "must not hold control characters", v);
  }
  return v;
}

/** Checks one record from the wire; throws ProtocolError naming the field. */
export function parseRecord(x: unknown, where: string): SharedRecord {
  if (typeof x !== "object" || x === null || Array.isArray(x)) fail(where, "must be an object", x);
  const o = x as Record<string, unknown>;
  if (o.kind === "ack") {
    const ack: SharedAck = {
      kind: "ack",
      id: str(o, "id", where, INCIDENT_ID),
      host: str(o, "host", where, NAME),
      test: str(o, "test", where, NAME),
      by: text(o, "by", where, MAX_BY),
      origin: str(o, "origin", where, NODE),
      at: time(o, "at", where),
      reason: text(o, "reason", where, MAX_REASON),
    };
    return ack;
  }
  if (o.kind !== "silence") fail(`${where}.kind`, "must be silence or ack", o.kind);
  let removed: Removal | null = null;
  if (o.removed !== null) {
    if (typeof o.removed !== "object" || Array.isArray(o.removed)) {
      fail(`${where}.removed`, "must be null or an object", o.removed);
    }
    const r = o.removed as Record<string, unknown>;
    removed = {
      at: time(r, "at", `${where}.removed`),
      by: text(r, "by", `${where}.removed`, MAX_BY),
      origin: str(r, "origin", `${where}.removed`, NODE),
    };
  }
  const test = o.test === null ? null : str(o, "test", where, NAME);
  return {
    kind: "silence",
    id: str(o, "id", where, ID),
    host: str(o, "host", where, NAME).toLowerCase(),
    test,
    until: time(o, "until", where),
    reason: text(o, "reason", where, MAX_REASON),
    by: text(o, "by", where, MAX_BY),
    origin: str(o, "origin", where, NODE),
    createdAt: time(o, "createdAt", where),
    removed,
  };
}

/** Checks a list of records (a push or a pull reply). */
export function parseRecords(x: unknown, where: string): SharedRecord[] {
  if (!Array.isArray(x)) fail(where, "must be a list", x);
  if (x.length > MAX_RECORDS) fail(where, `must hold at most ${MAX_RECORDS} records`, x.length);
  return x.map((r, i) => parseRecord(r, `${where}[${i}]`));
}

/** True when `host`/`test` are names a silence may carry (as silence.d/ accepts them). */
export function validTarget(host: string, test: string | null): boolean {
  return NAME.test(host) && (test === null || NAME.test(test));
}
