/**
 * Pure: the badge of a check (`/badge/<host>/<test>.svg`): its state word in its colour, or with
 * `?window=24h|7d|30d` its uptime over that window.
 * @module
 */
import { statusWord, tone } from "./format.ts";
import { percent } from "./history.ts";
import { BADGE_COLORS, badgeSvg } from "./svg.ts";
import type { CheckView } from "./types.ts";

export type BadgeWindow = "24h" | "7d" | "30d";
const WINDOWS: readonly string[] = ["24h", "7d", "30d"];

/** The `window` query value: absent -> null (state badge), a known window, or an Error. */
export function parseBadgeWindow(q: string | undefined): BadgeWindow | null | Error {
  if (q === undefined) return null;
  if (WINDOWS.includes(q)) return q as BadgeWindow;
  return new Error(`'window' must be 24h, 7d or 30d, got ${JSON.stringify(q.slice(0, 40))}`);
}

/** The colour of an uptime figure: green from 99.9 %, amber from 99 %, red below, grey unknown. */
export function uptimeColor(u: number | null): string {
  if (u === null) return BADGE_COLORS.none;
  return u >= 0.999 ? BADGE_COLORS.ok : u >= 0.99 ? BADGE_COLORS.warn : BADGE_COLORS.bad;
}

/** The SVG document for `c`. */
export function badgeFor(c: CheckView, window: BadgeWindow | null): string {
  if (window !== null) {
    const u = c.history?.uptime[window] ?? null;
    return badgeSvg(`${c.test} uptime ${window}`, percent(u), uptimeColor(u));
  }
  const t = tone(c);
  const color = t === "wait" ? BADGE_COLORS.none : BADGE_COLORS[t];
  return badgeSvg(`${c.host} ${c.test}`, statusWord(c), color);
}
