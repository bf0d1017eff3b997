/**
 * Routing: which notices an `alert.d/` entry wants. A route is a YAML mapping with any of
 * `hosts:`, `tests:`, `sites:` (lists of glob patterns, `*` and `?`), `kinds:` (a list of
 * `down`, `recovered`, `reminder`) and `min_duration:` (a duration). A key that is absent matches
 * everything; no route at all (an empty file) means every notice, at once. Local incidents have
 * the site name `local`. Pure: parsing through the field tables, matching by
 * {@link routeTargets}.
 * @module
 */
import { applyFields, field, type Nested } from "../config/fields.ts";
import { type Parsed, parseDuration, show } from "../config/values.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import type { Notification, NotificationKind } from "../quorum/types.ts";
import type { Target } from "./types.ts";

/** The kinds a route may name. */
export const ROUTE_KINDS: readonly NotificationKind[] = ["down", "recovered", "reminder"];

/** The keys of a route mapping. */
export const ROUTE_KEYS = ["hosts", "tests", "sites", "kinds", "min_duration"] as const;

/** What one entry wants; `null` lists match everything. */
export interface Route {
  hosts: string[] | null;
  tests: string[] | null;
  sites: string[] | null;
  kinds: NotificationKind[] | null;
  /** Ms an outage must have lasted before this entry is told of it (0: at once). */
  minDuration: number;
}

/** The route of an entry without one: everything, at once. */
export const EVERYTHING: Route = {
  hosts: null,
  tests: null,
  sites: null,
  kinds: null,
  minDuration: 0,
};

const GLOB = /^[A-Za-z0-9._*?@:-]{1,253}$/;

function patterns(v: unknown): Parsed<unknown[]> {
  if (typeof v === "string") return { ok: true, value: [v] };
  if (!Array.isArray(v)) {
    return { ok: false, message: `must be a list of patterns, got ${show(v)}` };
  }
  if (v.length === 0) return { ok: false, message: "must list at least one pattern, got []" };
  return { ok: true, value: v };
}

function globList(key: string, set: (r: Route, list: string[]) => void) {
  return field<Route, unknown[]>(key, patterns, (r, items) => {
    const bad: Nested[] = [];
    const out: string[] = [];
    items.forEach((p, i) => {
      if (typeof p === "number") p = String(p);
      if (typeof p !== "string" || !GLOB.test(p)) {
        bad.push({
          key: `${key}[${i}]`,
          message: `must be a name or glob pattern (letters, digits, . _ - @ : and * ?), got ${
            show(p)
          }`,
        });
      } else out.push(p);
    });
    if (bad.length) return bad;
    set(r, out);
  });
}

const FIELDS = [
  globList("hosts", (r, l) => r.hosts = l),
  globList("tests", (r, l) => r.tests = l),
  globList("sites", (r, l) => r.sites = l),
  field<Route, unknown[]>("kinds", patterns, (r, items) => {
    const bad: Nested[] = [];
    const out: NotificationKind[] = [];
    items.forEach((k, i) => {
      if (typeof k === "string" && (ROUTE_KINDS as readonly string[]).includes(k)) {
        out.push(k as NotificationKind);
      } else {
        bad.push({
          key: `kinds[${i}]`,
          message: `must be one of ${ROUTE_KINDS.join(", ")}, got ${show(k)}`,
        });
      }
    });
    if (bad.length) return bad;
    r.kinds = out;
  }),
  field<Route, number>(
    "min_duration",
    (v) => parseDuration(v, 0, 30 * 86_400_000),
    (r, ms) => void (r.minDuration = ms),
  ),
];

/**
 * Parses a decoded route mapping (null or undefined: everything). Problems name `file` and the
 * key (`tests[1]`); the route is returned even then, with the good keys applied.
 */
export function parseRoute(raw: unknown, file: string, problems: ConfigProblem[]): Route {
  const r: Route = { ...EVERYTHING };
  applyFields(raw, r, FIELDS, {
    file,
    section: "",
    hint: ROUTE_KEYS.join(", "),
    problems,
  });
  return r;
}

/** True when `name` matches the glob `pattern` (`*` any run, `?` one character), whole. */
export function globMatch(pattern: string, name: string): boolean {
  const re = "^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")
    .replace(/\?/g, ".") +
    "$";
  return new RegExp(re).test(name);
}

function anyMatch(list: string[] | null, name: string): boolean {
  return list === null || list.some((p) => globMatch(p, name));
}

/** Why `route` does not want `n` (as "not routed: ..."), or null when it does. */
export function routeRefusal(route: Route, n: Notification): string | null {
  if (!anyMatch(route.hosts, n.host)) return `hosts ${route.hosts!.join(", ")}`;
  if (!anyMatch(route.tests, n.test)) return `tests ${route.tests!.join(", ")}`;
  if (!anyMatch(route.sites, n.site ?? "local")) return `sites ${route.sites!.join(", ")}`;
  if (route.kinds !== null && !route.kinds.includes(n.kind)) {
    return `kinds ${route.kinds.join(", ")}`;
  }
  return null;
}

/** A target with its route (a target without one gets everything). */
export type RoutedTarget = Target & { route?: Route };

/** Where each target stands for one notification. */
export interface RouteDecision {
  /** Targets that get it, and when it is due (later than `now` for a down notice held back by
   * `min_duration`). */
  send: { target: Target; at: number; minDuration: number }[];
  /** Targets whose route does not want it, with the reason (`not routed: tests other`). */
  skipped: { target: Target; note: string }[];
}

/**
 * Chooses, purely, who gets `n` at `now`: a target whose route refuses it is skipped; a down
 * notice for a target with `min_duration` is due at incident start + min_duration; a reminder
 * before that is skipped (the held down notice covers it). Recovery notices are routed here by
 * host/test/site/kind only; the notifier then sends them to `min_duration` targets only when
 * their down notice went out.
 */
export function routeTargets(
  targets: readonly RoutedTarget[],
  n: Notification,
  now: number,
): RouteDecision {
  const out: RouteDecision = { send: [], skipped: [] };
  for (const t of targets) {
    const target: Target = { channel: t.channel, name: t.name };
    const route = t.route ?? EVERYTHING;
    const why = routeRefusal(route, n);
    if (why !== null) {
      out.skipped.push({ target, note: `not routed: ${why}` });
      continue;
    }
    const ready = n.startedAt + route.minDuration;
    if (n.kind === "reminder" && route.minDuration > 0 && ready > now) {
      out.skipped.push({ target, note: "not routed: before min_duration" });
      continue;
    }
    const at = n.kind === "down" ? Math.max(now, ready) : now;
    out.send.push({ target, at, minDuration: route.minDuration });
  }
  return out;
}
