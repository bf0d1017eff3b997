/**
 * The status renderers: page, per-check page, badges, terminal text, Prometheus families. Apart
 * from ./mod.ts so that a running node loads them with the first request for them (routes.ts),
 * not at start.
 * @module
 */
export { renderPage } from "./page.tsx";
export { renderCheckPage } from "./check_page.tsx";
export { badgeFor, type BadgeWindow, parseBadgeWindow } from "./badge.ts";
export { renderText } from "./text.ts";
export { viewFamilies } from "./metrics.ts";
