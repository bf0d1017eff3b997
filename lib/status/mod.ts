/**
 * What an operator sees: the status page (`GET /`), the same view as JSON (`GET /v1/status`), the
 * Prometheus metrics (`GET /metrics`) and the terminal view (`dmonitor status`), all rendered from
 * one {@link StatusView} that a {@link StatusSource} provides.
 *
 * @example
 * ```ts
 * const access = await loadStatusAccess(config.sections.status, config.root);
 * const source = { view: () => buildStoreView(config, store.lastAll(), { version, startedAt, now: Date.now() }) };
 * const app = buildNodeApp({ status: statusRoutes({ source, access }), peer, logger }); // lib/node
 * ```
 * @module
 */
export type {
  AckView,
  CheckIncidentView,
  CheckPageView,
  CheckStatus,
  CheckView,
  HistoryView,
  NoticeView,
  OpenIncident,
  OutboxView,
  PastIncident,
  PeerView,
  ResponsePoint,
  RunView,
  SilenceView,
  SiteView,
  StatusSource,
  StatusView,
  TimelineSegment,
  VoteView,
} from "./types.ts";
export { buildStoreView, quorumText } from "./source.ts";
export {
  parseStatusSettings,
  STATUS_DEFAULTS,
  statusSection,
  type StatusSettings,
} from "./settings.ts";
export {
  cidrContains,
  isAllowed,
  loadStatusAccess,
  parseCidr,
  type StatusAccess,
} from "./access.ts";
export { renderPage } from "./page.tsx";
export { renderCheckPage } from "./check_page.tsx";
export { badgeFor, type BadgeWindow, parseBadgeWindow } from "./badge.ts";
export { historyView, percent } from "./history.ts";
export { renderText } from "./text.ts";
export { viewFamilies } from "./metrics.ts";
export { STATUS_PATHS, type StatusRouteDeps, statusRoutes, TOKEN_COOKIE } from "./routes.ts";
export { LOCAL_TOKEN_FILE, readLocalToken, writeLocalToken } from "./local_token.ts";
