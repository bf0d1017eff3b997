/**
 * The per-check page's view (`/check/<host>/<test>`): the check as the status view has it, its
 * 30 days, state changes and last runs from the store, and its incidents, each with every node's
 * vote and the notices sent, from the consensus state and the outbox (whose rows carry the
 * notification, votes included, as JSON).
 * @module
 */
import type { OutboxRow } from "../alerts/mod.ts";
import { parsePerfdata } from "../runner/perfdata.ts";
import type { Vote } from "../quorum/types.ts";
import type { CheckIncidentView, CheckPageView, StatusView } from "../status/mod.ts";
import { type Bucket, bucketStart, DAY_MS, type HistoryEntry } from "../store/mod.ts";
import type { StateChange } from "../store/mod.ts";
import { noticeOf } from "./status.ts";

interface Payload {
  startedAt?: number;
  endedAt?: number | null;
  votes?: Vote[];
}

function payloadOf(r: OutboxRow): Payload {
  try {
    return JSON.parse(r.payload) as Payload;
  } catch {
    return {};
  }
}

/** Pure: a check's incidents, newest first: the open one (from the view), then the outbox's. */
export function checkIncidents(
  view: StatusView,
  host: string,
  test: string,
  rows: readonly OutboxRow[],
): CheckIncidentView[] {
  const open = view.incidents.find((i) => i.host === host && i.test === test && i.site === null);
  const out: CheckIncidentView[] = [];
  if (open) {
    out.push({
      id: open.id,
      state: open.state,
      startedAt: open.since,
      endedAt: null,
      votes: open.votes,
      notices: open.notices ?? [],
    });
  }
  const byId = Map.groupBy(rows.filter((r) => r.incidentId !== open?.id), (r) => r.incidentId);
  const past: CheckIncidentView[] = [];
  for (const [id, rs] of byId) {
    const down = rs.find((r) => r.kind === "down") ?? rs[0]!;
    const rec = rs.find((r) => r.kind === "recovered");
    const p = payloadOf(down);
    past.push({
      id,
      state: "closed",
      startedAt: p.startedAt ?? down.createdAt,
      endedAt: rec ? payloadOf(rec).endedAt ?? null : null,
      votes: (p.votes ?? []).map((v) => ({
        node: v.node,
        status: v.status,
        output: v.output,
        at: v.at,
      })),
      notices: rs.map((r) => noticeOf(r, view.node)),
    });
  }
  past.sort((a, b) => b.startedAt - a.startedAt);
  return [...out, ...past];
}

/** Pure: the 30 UTC days ending today from their buckets, days without runs included. */
export function lastDays(daily: readonly Bucket[], now: number): CheckPageView["days"] {
  const today = bucketStart(now, DAY_MS);
  const by = new Map(daily.map((b) => [b.start, b]));
  return Array.from({ length: 30 }, (_, i) => {
    const day = today - (29 - i) * DAY_MS;
    const b = by.get(day);
    return {
      day,
      runs: b?.runs ?? 0,
      ok: b?.ok ?? 0,
      avgMs: b && b.runs ? b.durSumMs / b.runs : null,
    };
  });
}

/** Pure: the page view of one check of `view`, or null when it is not configured. */
export function checkPageView(
  view: StatusView,
  host: string,
  test: string,
  data: {
    /** Day buckets of the last 30 days (StateStore.days). */
    days: Bucket[];
    changes: StateChange[];
    runs: HistoryEntry[];
    outbox: readonly OutboxRow[];
  },
): CheckPageView | null {
  const check = view.checks.find((c) => c.host === host && c.test === test);
  if (!check) return null;
  return {
    node: view.node,
    version: view.version,
    generatedAt: view.generatedAt,
    check,
    days: lastDays(data.days, view.generatedAt),
    changes: data.changes.map((c) => ({ ...c })),
    runs: data.runs.map((r) => ({
      at: r.startedAt,
      status: r.status,
      state: r.state,
      output: r.output,
      durationMs: r.durationMs,
      perfdata: parsePerfdata(r.perfdata).items,
    })),
    incidents: checkIncidents(view, host, test, data.outbox),
  };
}
