/**
 * The JSON bodies of the peer protocol and their strict validation. Known fields are checked for
 * type and range; unknown fields are dropped (so a newer peer can add some during a rolling
 * upgrade). Every failure is a ProtocolError naming the field and the value.
 * @module
 */
import { ProtocolError } from "../errors/mod.ts";
import type { IncidentRecord, IncidentView, LocalAnswer, Notice, Phase } from "../quorum/types.ts";

/** `POST /v1/confirm` and `POST /v1/view`. */
export interface TargetRequest {
  host: string;
  test: string;
}

/** A signed 200 reply to confirm or view: the peer's name, its vote and its incident state. */
export interface PeerReply extends LocalAnswer {
  node: string;
}

const HOST_RE = /^[A-Za-z0-9:][A-Za-z0-9._:-]{0,252}$/;
const TEST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const PHASES: readonly Phase[] = [
  "ok",
  "suspect",
  "local-only",
  "unconfirmed",
  "down",
  "recovering",
  "recovered",
];
const STATUSES = ["OK", "FAIL", "TIMEOUT", "UNKNOWN"] as const;
const MAX_OUTPUT = 4096;

type Obj = Record<string, unknown>;

function bad(path: string, what: string, v: unknown): never {
  const shown = JSON.stringify(v)?.slice(0, 80) ?? String(v);
  throw new ProtocolError(`'${path}' must be ${what}, got ${shown}`);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(path, "an object", v);
  return v as Obj;
}

function str(o: Obj, k: string, path: string, re: RegExp, what: string): string {
  const v = o[k];
  if (typeof v !== "string" || !re.test(v)) bad(`${path}${k}`, what, v);
  return v;
}

function time(o: Obj, k: string, path: string, nullable: true): number | null;
function time(o: Obj, k: string, path: string, nullable?: false): number;
function time(o: Obj, k: string, path: string, nullable = false): number | null {
  const v = o[k];
  if (nullable && v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    bad(`${path}${k}`, nullable ? "a time in ms or null" : "a time in ms", v);
  }
  return v;
}

function oneOf<T extends string>(o: Obj, k: string, path: string, allowed: readonly T[]): T {
  const v = o[k];
  if (!allowed.includes(v as T)) bad(`${path}${k}`, `one of ${allowed.join(", ")}`, v);
  return v as T;
}

export function parseTargetRequest(v: unknown): TargetRequest {
  const o = obj(v, "body");
  return {
    host: str(o, "host", "", HOST_RE, "a host name or IP address"),
    test: str(o, "test", "", TEST_RE, "a test name"),
  };
}

function parseNotice(v: unknown, path: string): Notice | null {
  if (v === null) return null;
  const o = obj(v, path);
  const passed = o.passed;
  if (
    !Array.isArray(passed) || passed.length > 64 ||
    !passed.every((p) => typeof p === "string" && NODE_RE.test(p))
  ) {
    bad(`${path}.passed`, "a list of node names", passed);
  }
  return {
    by: str(o, "by", `${path}.`, NODE_RE, "a node name"),
    committedAt: time(o, "committedAt", `${path}.`),
    deliveredAt: time(o, "deliveredAt", `${path}.`, true),
    passed: passed as string[],
  };
}

function parseRecord(v: unknown, path: string): IncidentRecord | null {
  if (v === null) return null;
  const o = obj(v, path);
  return {
    id: str(o, "id", `${path}.`, /^[\x20-\x7e]{1,600}$/, "an incident id"),
    startedAt: time(o, "startedAt", `${path}.`),
    endedAt: time(o, "endedAt", `${path}.`, true),
    down: parseNotice(o.down, `${path}.down`),
    recovered: parseNotice(o.recovered, `${path}.recovered`),
  };
}

/** A claim's settle time, when the view says it (older nodes do not): 0-60 s. */
function settleOf(o: Obj, p: string): { settleMs?: number | null } {
  const v = o.settleMs;
  if (v === undefined) return {};
  if (v === null) return { settleMs: null };
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 60_000) {
    bad(`${p}settleMs`, "a number of milliseconds (0-60000) or null", v);
  }
  return { settleMs: v as number };
}

/** Validates an incident view (in a reply, or the body of `POST /v1/incident`). */
export function parseIncidentView(v: unknown, path = "incident"): IncidentView {
  const o = obj(v, path);
  const p = `${path}.`;
  return {
    host: str(o, "host", p, HOST_RE, "a host name or IP address"),
    test: str(o, "test", p, TEST_RE, "a test name"),
    phase: oneOf(o, "phase", p, PHASES),
    claim: o.claim === null ? null : oneOf(o, "claim", p, ["down", "recovered"] as const),
    ...settleOf(o, p),
    incident: parseRecord(o.incident, `${p}incident`),
    closed: parseRecord(o.closed, `${p}closed`),
  };
}

/** Validates a confirm or view reply; `expect` is the host+test that was asked about. */
export function parsePeerReply(v: unknown, expect: TargetRequest): PeerReply {
  const o = obj(v, "reply");
  const output = o.output;
  if (typeof output !== "string" || output.length > MAX_OUTPUT) {
    bad("output", `a string of at most ${MAX_OUTPUT} characters`, output);
  }
  const incident = o.incident === null ? null : parseIncidentView(o.incident);
  if (incident !== null && (incident.host !== expect.host || incident.test !== expect.test)) {
    bad("incident", `about ${expect.host}/${expect.test}`, `${incident.host}/${incident.test}`);
  }
  return {
    node: str(o, "node", "", NODE_RE, "a node name"),
    status: oneOf(o, "status", "", STATUSES),
    output,
    at: time(o, "at", ""),
    incident,
  };
}

// ---- Batches: many host/test pairs in one request (POST /v1/batch/confirm, /view, /incident) ----

/** Most items in one batch request (a request body is also capped in bytes by the endpoint). */
export const MAX_BATCH_ITEMS = 1000;

/** One item of a batch confirm: answer from a result at most `maxAgeMs` old, else run the check. */
export interface ConfirmItem extends TargetRequest {
  /** Age of the asker's failing result when the request was sent: an older result is no answer. */
  maxAgeMs: number;
}

/** `POST /v1/batch/confirm`: `waitMs` is how long the asker still waits for checks to finish. */
export interface BatchConfirmRequest {
  items: ConfirmItem[];
  waitMs: number;
}

/** `POST /v1/batch/view`. */
export interface BatchViewRequest {
  items: TargetRequest[];
}

/** `POST /v1/batch/incident`. */
export interface BatchIncidentRequest {
  views: IncidentView[];
}

/** A signed 200 reply to a batch confirm or view: one answer per item, in order. */
export interface BatchReply {
  node: string;
  answers: LocalAnswer[];
}

function list(o: Obj, k: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_BATCH_ITEMS) {
    bad(k, `a list of 1-${MAX_BATCH_ITEMS} items`, Array.isArray(v) ? `${v.length} items` : v);
  }
  return v;
}

function duration(o: Obj, k: string, path: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 86_400_000) {
    bad(`${path}${k}`, "a duration in ms (0-86400000)", v);
  }
  return v;
}

/** The host and test of one batch item at `p` (`items[3].`). */
function target(it: Obj, p: string): { host: string; test: string } {
  return {
    host: str(it, "host", p, HOST_RE, "a host name or IP address"),
    test: str(it, "test", p, TEST_RE, "a test name"),
  };
}

/** Every entry of `o.items`, each an object parsed by `each` with its path for messages. */
function items<T>(o: Obj, each: (it: Obj, p: string) => T): T[] {
  return list(o, "items").map((x, i) => each(obj(x, `items[${i}]`), `items[${i}].`));
}

export function parseBatchConfirm(v: unknown): BatchConfirmRequest {
  const o = obj(v, "body");
  return {
    items: items(o, (it, p) => ({ ...target(it, p), maxAgeMs: duration(it, "maxAgeMs", p) })),
    waitMs: duration(o, "waitMs", ""),
  };
}

export function parseBatchView(v: unknown): BatchViewRequest {
  const o = obj(v, "body");
  return {
    items: items(o, target),
  };
}

export function parseBatchIncident(v: unknown): BatchIncidentRequest {
  const o = obj(v, "body");
  return { views: list(o, "views").map((x, i) => parseIncidentView(x, `views[${i}]`)) };
}

/** Validates a batch reply against the items asked about (same count, same host/test each). */
export function parseBatchReply(v: unknown, expect: readonly TargetRequest[]): BatchReply {
  const o = obj(v, "reply");
  const node = str(o, "node", "", NODE_RE, "a node name");
  const raw = o.answers;
  if (!Array.isArray(raw) || raw.length !== expect.length) {
    bad("answers", `a list of ${expect.length} answers`, Array.isArray(raw) ? raw.length : raw);
  }
  const answers = raw.map((a, i) => {
    const r = parsePeerReply({ ...obj(a, `answers[${i}]`), node }, expect[i]!);
    return { status: r.status, output: r.output, at: r.at, incident: r.incident };
  });
  return { node, answers };
}

/** Validates the reply to a batch announcement: whether each view's test is configured there. */
export function parseBatchKnown(v: unknown, count: number): { node: string; known: boolean[] } {
  const o = obj(v, "reply");
  const node = str(o, "node", "", NODE_RE, "a node name");
  const known = o.known;
  if (
    !Array.isArray(known) || known.length !== count || !known.every((k) => typeof k === "boolean")
  ) {
    bad("known", `a list of ${count} booleans`, known);
  }
  return { node, known: known as boolean[] };
}
