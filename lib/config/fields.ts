/**
 * Field tables: a settings mapping is parsed by a list of `{ key, parse, set }` rows instead of a
 * `switch`, so every section words its problems the same way and a new key is one line. Pure.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";
import { type Parsed, show } from "./values.ts";

/** A problem inside a list or mapping value, at a key such as `allow[1]`. */
export interface Nested {
  key: string;
  message: string;
}

/** One key of a settings mapping: how its value is parsed and where the result goes. */
export interface Field<S> {
  key: string;
  /**
   * Parses `v` into `s`; returns the problem's message when the value is refused, or problems of
   * its entries (a list whose items are checked one by one).
   */
  apply(s: S, v: unknown): string | Nested[] | null;
}

/**
 * A field whose value `parse` validates and `set` stores; `set` may still refuse the parsed
 * value by returning a message (a rule that needs the parsed form, such as a name pattern).
 * @example field("retries", (v) => parseInteger(v, 0, 10), (s: S, x) => { s.retries = x; })
 */
export function field<S, T>(
  key: string,
  parse: (v: unknown) => Parsed<T>,
  set: (s: S, value: T) => string | Nested[] | void,
): Field<S> {
  return {
    key,
    apply(s, v) {
      const r = parse(v);
      if (!r.ok) return r.message;
      const out = set(s, r.value);
      return out === undefined || (Array.isArray(out) && out.length === 0) ? null : out;
    },
  };
}

/** Where a mapping sits, for messages: `dmonitor.yaml: 'spool.max_size' ...`. */
export interface Scope {
  file: string;
  /** The section's key (`spool`), or "" for the top level of the file. */
  section: string;
  /** What a mapping here holds, for the "must be a mapping" message (`directory, send_to, ...`). */
  hint?: string;
  problems: ConfigProblem[];
}

/** The key as problems name it: `spool.max_size`, or `listen` at the top level. */
export function scopedKey(scope: Pick<Scope, "section">, key: string): string {
  return scope.section ? (key ? `${scope.section}.${key}` : scope.section) : key;
}

/** Records a problem at `key` of `scope`. */
export function fail(scope: Scope, key: string, message: string): void {
  scope.problems.push({ file: scope.file, key: scopedKey(scope, key), message });
}

/**
 * Applies every entry of the mapping `raw` through its field; an unknown key, or a `raw` that is
 * not a mapping, is a problem. Returns false when `raw` is not a mapping (nothing was applied).
 * Absent (`undefined`/`null`) counts as an empty mapping.
 */
export function applyFields<S>(
  raw: unknown,
  target: S,
  fields: readonly Field<S>[],
  scope: Scope,
  extraKeys: readonly string[] = [],
): boolean {
  if (raw === undefined || raw === null) return true;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    const what = scope.hint ? ` (${scope.hint})` : "";
    fail(scope, "", `must be a mapping${what}, got ${show(raw)}`);
    return false;
  }
  const byKey = new Map(fields.map((f) => [f.key, f]));
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    const f = byKey.get(key);
    if (f) {
      const out = f.apply(target, v);
      if (typeof out === "string") fail(scope, key, out);
      else for (const n of out ?? []) fail(scope, n.key, n.message);
    } else if (!extraKeys.includes(key)) {
      const known = [...byKey.keys(), ...extraKeys].join(", ");
      fail(scope, key, `is not a known setting (known: ${known})`);
    }
  }
  return true;
}
