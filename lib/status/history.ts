/**
 * Pure: a check's stored buckets and state changes (lib/store history) turned into what the
 * views say and draw: uptime over 24 h, 7 d and 30 d, the 24-hour state timeline, response times
 * per hour and per day.
 * @module
 */
import { type Bucket, bucketStart, type CheckSummary, DAY_MS } from "../store/mod.ts";
import type { HistoryView, ResponsePoint, TimelineSegment } from "./types.ts";

const HOUR_MS = 3_600_000;

/** Share of runs that passed, 0-1; null when there were none. */
export function uptimeOf(buckets: readonly Bucket[]): number | null {
  let runs = 0, ok = 0;
  for (const b of buckets) {
    runs += b.runs;
    ok += b.ok;
  }
  return runs === 0 ? null : ok / runs;
}

/** Buckets merged into groups of `width` ms (average and maximum response time, run counts). */
export function responseOf(buckets: readonly Bucket[], width: number): ResponsePoint[] {
  const out: ResponsePoint[] = [];
  const sums = new Map<number, { runs: number; ok: number; sum: number; max: number }>();
  for (const b of buckets) {
    const at = bucketStart(b.start, width);
    const s = sums.get(at) ?? { runs: 0, ok: 0, sum: 0, max: 0 };
    s.runs += b.runs;
    s.ok += b.ok;
    s.sum += b.durSumMs;
    s.max = Math.max(s.max, b.durMaxMs);
    sums.set(at, s);
  }
  for (const [at, s] of [...sums].sort((a, b) => a[0] - b[0])) {
    out.push({ at, avgMs: s.runs ? s.sum / s.runs : 0, maxMs: s.max, runs: s.runs, ok: s.ok });
  }
  return out;
}

/** The states over [from, to): the state at `from` (null if unknown), then each change. */
export function timelineOf(s: CheckSummary, from: number, to: number): TimelineSegment[] {
  const points: { at: number; state: string | null }[] = [
    { at: from, state: s.before?.state ?? null },
  ];
  for (const c of s.changes) {
    if (c.at >= to) break;
    if (c.at <= from) points[0] = { at: from, state: c.state };
    else points.push({ at: c.at, state: c.state });
  }
  const out: TimelineSegment[] = [];
  points.forEach((p, i) => {
    const end = points[i + 1]?.at ?? to;
    const last = out[out.length - 1];
    if (last && last.state === p.state) last.to = end;
    else if (end > p.at) out.push({ from: p.at, to: end, state: p.state });
  });
  return out;
}

const share = (c: { runs: number; ok: number }) => (c.runs === 0 ? null : c.ok / c.runs);

/**
 * The whole history part of a check's view at `now`. Uptime over 24 h counts the last 24 hour
 * buckets (the current one included); over 7 and 30 days, that many UTC days with today.
 */
export function historyView(s: CheckSummary, now: number): HistoryView {
  const from = now - DAY_MS;
  const first = bucketStart(now, HOUR_MS) - 23 * HOUR_MS;
  return {
    uptime: {
      "24h": uptimeOf(s.fine.filter((b) => b.start >= first)),
      "7d": share(s.days7),
      "30d": share(s.days30),
    },
    timeline: { from, to: now, segments: timelineOf(s, from, now) },
    response: responseOf(s.fine, HOUR_MS),
  };
}

/** `99.95%`, `100%`, `—` for unknown: two decimals, never rounded up to 100. */
export function percent(x: number | null): string {
  if (x === null) return "—";
  if (x >= 1) return "100%";
  return `${(Math.floor(x * 10_000) / 100).toFixed(2)}%`;
}
