/**
 * Pure SVG builders for the page, the per-check page and the badges: strings in, strings out,
 * no scripts. The page's pictures scale to their box (`preserveAspectRatio="none"`, bars only, so
 * nothing is distorted) and take their colours from the page's CSS classes, so dark mode and a
 * 390 px phone need nothing else; badges are standalone documents with their own fills.
 * @module
 */
import type { ResponsePoint, TimelineSegment } from "./types.ts";

/** Escapes text for SVG/XML content and attribute values. */
export function xmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** A coordinate with at most one decimal. */
function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/** The CSS class (and badge colour family) of a raw state; null state: nothing known. */
export function stateClass(state: string | null): string {
  switch (state) {
    case "OK":
      return "s-ok";
    case "WARNING":
      return "s-warn";
    case "UNKNOWN":
      return "s-unknown";
    case null:
      return "s-none";
    default:
      return "s-bad";
  }
}

/** The smallest 1, 2 or 5 times a power of ten that is at least `x` (1 for x <= 1). */
export function niceCeil(x: number): number {
  if (!(x > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/** One line per segment, for a tooltip: `CRITICAL 10:00Z-10:05Z`. */
function hhmm(at: number): string {
  return new Date(at).toISOString().slice(11, 16);
}

/**
 * The state timeline over [from, to): one rect per segment, 1000 units wide, 10 high.
 * @example
 * ```ts
 * timelineSvg({ from: 0, to: 100, segments: [{ from: 0, to: 100, state: "OK" }] }, "last 24 h");
 * ```
 */
export function timelineSvg(
  tl: { from: number; to: number; segments: readonly TimelineSegment[] },
  label: string,
): string {
  const width = Math.max(1, tl.to - tl.from);
  const x = (at: number) => ((Math.min(Math.max(at, tl.from), tl.to) - tl.from) / width) * 1000;
  const rects = tl.segments.map((s) => {
    const x0 = x(s.from);
    const w = x(s.to) - x0;
    const what = s.state ?? "no data";
    return `<rect x="${n(x0)}" width="${n(w)}" height="10" class="${stateClass(s.state)}">` +
      `<title>${xmlText(`${what} ${hhmm(s.from)}Z-${hhmm(s.to)}Z`)}</title></rect>`;
  }).join("");
  return `<svg class="tl" viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" ` +
    `aria-label="${xmlText(label)}">${rects}</svg>`;
}

/**
 * Response times as bars over [from, to) in slots of `step` ms: a pale bar to the slot's slowest
 * run, a solid one to its average (red in a slot with a failed run); `scaleMs` (see
 * {@link niceCeil}) is the top of the chart. Each kind of bar is one path of 3-unit-wide vertical
 * strokes (a stroke scales with the box like the bars would), which keeps 1,000 charts small.
 */
export function responseSvg(
  points: readonly ResponsePoint[],
  o: { from: number; to: number; step: number; scaleMs: number; label: string },
): string {
  const slots = Math.max(1, Math.ceil((o.to - o.from) / o.step));
  const H = 30;
  const h = (ms: number) => Math.max(0.5, Math.min(H, (ms / o.scaleMs) * H));
  const bar = (x: number, height: number) => `M${x + 1.5} ${H}v-${n(height)}`;
  let max = "", avg = "", bad = "";
  for (const p of points) {
    if (p.at + o.step <= o.from || p.at >= o.to) continue;
    const x = Math.max(0, Math.floor((p.at - o.from) / o.step)) * 4;
    max += bar(x, h(p.maxMs));
    if (p.ok < p.runs) bad += bar(x, h(p.avgMs));
    else avg += bar(x, h(p.avgMs));
  }
  const path = (d: string, cls: string) => d ? `<path class="${cls}" d="${d}"/>` : "";
  return `<svg class="rt" viewBox="0 0 ${slots * 4} ${H}" preserveAspectRatio="none" role="img" ` +
    `aria-label="${xmlText(o.label)}">${path(max, "rt-max")}${path(avg, "rt-avg")}` +
    `${path(bad, "rt-bad")}</svg>`;
}

/**
 * A row of cells, one per day (oldest first): the day's uptime as its colour, the date and
 * figure in its tooltip.
 */
export function daysSvg(days: readonly { day: number; uptime: number | null; text: string }[]) {
  const cells = days.map((d, i) => {
    const cls = d.uptime === null
      ? "s-none"
      : d.uptime >= 0.999
      ? "s-ok"
      : d.uptime >= 0.99
      ? "s-warn"
      : "s-bad";
    return `<rect x="${i * 10}" width="9" height="10" class="${cls}">` +
      `<title>${
        xmlText(`${new Date(d.day).toISOString().slice(0, 10)}: ${d.text}`)
      }</title></rect>`;
  }).join("");
  return `<svg class="days" viewBox="0 0 ${Math.max(1, days.length) * 10 - 1} 10" ` +
    `preserveAspectRatio="none" role="img" aria-label="uptime per day">${cells}</svg>`;
}

/** A small bar chart of a series (oldest first) from min(0, lowest) to the highest value. */
export function seriesSvg(values: readonly number[], label: string): string {
  const lo = Math.min(0, ...values), hi = Math.max(...values, lo + 1e-9);
  const H = 20;
  const bars = values.map((v, i) => {
    const h = Math.max(0.5, ((v - lo) / (hi - lo)) * H);
    return `<rect x="${i * 3}" y="${n(H - h)}" width="2" height="${n(h)}"/>`;
  }).join("");
  return `<svg class="series" viewBox="0 0 ${Math.max(1, values.length) * 3} ${H}" ` +
    `preserveAspectRatio="none" role="img" aria-label="${xmlText(label)}">${bars}</svg>`;
}

/** Approximate width in px of `s` in 11 px Verdana/DejaVu Sans (the badge font). */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    if ("ijl.,:;'!|I ".includes(ch)) w += 3.5;
    else if ("frt()[]/-1".includes(ch)) w += 5;
    else if ("mwMW%@".includes(ch)) w += 10;
    else if (ch >= "A" && ch <= "Z") w += 7.5;
    else w += 6.5;
  }
  return Math.ceil(w);
}

export const BADGE_COLORS = {
  ok: "#1a7f37",
  warn: "#9a6700",
  bad: "#cf222e",
  unknown: "#8250df",
  none: "#6e7781",
} as const;

/** A flat two-part badge (`label | message`), 20 px high, as a standalone SVG document. */
export function badgeSvg(label: string, message: string, color: string): string {
  const lw = textWidth(label) + 10, mw = textWidth(message) + 10;
  const title = xmlText(`${label}: ${message}`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${lw + mw}" height="20" role="img" ` +
    `aria-label="${title}"><title>${title}</title>` +
    `<rect width="${lw}" height="20" fill="#555"/>` +
    `<rect x="${lw}" width="${mw}" height="20" fill="${xmlText(color)}"/>` +
    `<g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11" ` +
    `text-anchor="middle"><text x="${n(lw / 2)}" y="14">${xmlText(label)}</text>` +
    `<text x="${n(lw + mw / 2)}" y="14">${xmlText(message)}</text></g></svg>`;
}
