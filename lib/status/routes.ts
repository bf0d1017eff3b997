/**
 * The read-only HTTP surface: `GET /` (the page), `GET /v1/status` (the same view as JSON) and
 * `GET /metrics` (Prometheus), mounted on the node's Hono app and guarded by {@link isAllowed}.
 * @module
 */
import type { Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { compress } from "hono/compress";
import { REGISTRY, type Registry } from "../metrics/mod.ts";
import { nextTurn } from "../clock/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type LimiterTimers, LogLimiter } from "../peers/log_limiter.ts";
import { isAllowed, type StatusAccess } from "./access.ts";
import { viewFamilies } from "./metrics.ts";
import { renderPageChunks } from "./page.tsx";
import { renderCheckPage } from "./check_page.tsx";
import { badgeFor, parseBadgeWindow } from "./badge.ts";
import type { StatusSource } from "./types.ts";

export const TOKEN_COOKIE = "dmonitor_status";
export const STATUS_PATHS = ["/", "/v1/status", "/metrics", "/check/*", "/badge/*"] as const;

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

export interface StatusRouteDeps {
  source: StatusSource;
  /** The current access rules (a function, so a reload applies at once). */
  access: StatusAccess | (() => StatusAccess);
  registry?: Registry;
  logger?: Logger;
  /** Refusals logged per reason per window (default 20 per 10 s); the rest are counted. */
  refusalLog?: {
    perWindow?: number;
    windowMs?: number;
    clock?: () => number;
    timers?: LimiterTimers;
  };
}

/** The client's address as the listener saw it (Deno.serve passes it as the env). */
function remoteIp(c: Context): string | null {
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? null;
}

function presentedToken(c: Context): string | null {
  const auth = c.req.header("authorization");
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1] ?? c.req.query("token") ?? getCookie(c, TOKEN_COOKIE) ?? null;
}

const FORBIDDEN = "403 forbidden: the dmonitor status page answers loopback clients only, unless " +
  "'status.allow' in dmonitor.yaml lists your network or you present the token from " +
  "'status.token_file' (Authorization: Bearer TOKEN, or ?token=TOKEN once in a browser).\n";

/** Returns the function that mounts the status routes on the node's app (lib/node `buildNodeApp`). */
export function statusRoutes(deps: StatusRouteDeps): (app: Hono) => void {
  const access = typeof deps.access === "function"
    ? deps.access
    : () => deps.access as StatusAccess;
  const registry = deps.registry ?? REGISTRY;
  // A scanner or a misconfigured scraper must not flood the journal: a few lines per window, then
  // one line with the number refused since.
  const refusals = new LogLimiter({
    clock: deps.refusalLog?.clock ?? Date.now,
    perWindow: deps.refusalLog?.perWindow ?? 20,
    windowMs: deps.refusalLog?.windowMs ?? 10_000,
    ...(deps.refusalLog?.timers ? { timers: deps.refusalLog.timers } : {}),
  });
  const refused = (reason: string, path: string, client: string) =>
    refusals.run(
      reason,
      (suppressed) =>
        deps.logger?.warn("status request refused", {
          reason,
          path,
          client,
          suppressed: suppressed || undefined,
        }),
      (suppressed) =>
        deps.logger?.warn("status requests refused, not logged one by one", {
          reason,
          suppressed,
        }),
    );
  return (app) => {
    for (const path of STATUS_PATHS) {
      app.use(path, async (c, next) => {
        if (c.req.method !== "GET" && c.req.method !== "HEAD") {
          return c.text("405 method not allowed\n", 405);
        }
        const ip = remoteIp(c);
        const token = presentedToken(c);
        const a = access();
        if (!isAllowed(a, ip, token)) {
          refused(token === null ? "not allowed" : "bad token", path, ip ?? "unknown");
          return c.text(FORBIDDEN, 403);
        }
        // A browser that came with ?token= gets a cookie and a clean URL, so the token does not
        // linger in the address bar, history or the meta refresh.
        if (c.req.query("token") !== undefined && a.token !== null && token === a.token) {
          setCookie(c, TOKEN_COOKIE, a.token, { httpOnly: true, sameSite: "Strict", path: "/" });
          const here = c.req.path;
          return c.redirect(here.slice(here.lastIndexOf("/") + 1) || "./", 303);
        }
        await next();
        c.header("cache-control", "no-store");
        c.header("x-content-type-options", "nosniff");
        c.header("referrer-policy", "no-referrer");
      });
    }
    // The page for 1,000 checks is some 2 MiB of HTML and SVG, a tenth of that gzipped.
    for (const path of ["/", "/v1/status", "/check/*"]) app.use(path, compress());
    app.get("/", (c) => {
      c.header("content-security-policy", PAGE_CSP);
      const view = deps.source.view();
      // In chunks of 100 check rows, as /metrics: the rows of 1,000 checks with their history
      // are most of 2 MiB of HTML and SVG.
      const chunks = renderPageChunks(view, {
        refreshSeconds: Math.round(access().settings.refresh / 1000),
      });
      return c.body(chunkStream(chunks), 200, { "content-type": "text/html; charset=UTF-8" });
    });
    app.get("/v1/status", (c) => c.json(deps.source.view()));
    app.get("/check/:host/:test", (c) => {
      const { host, test } = c.req.param();
      const v = deps.source.check?.(host, test) ?? null;
      if (v === null) {
        return c.text(
          `404 not found: no check ${JSON.stringify(`${host}/${test}`)} is configured\n`,
          404,
        );
      }
      c.header("content-security-policy", PAGE_CSP);
      return c.html(
        renderCheckPage(v, { refreshSeconds: Math.round(access().settings.refresh / 1000) }),
      );
    });
    app.get("/badge/:host/:file", (c) => {
      const { host, file } = c.req.param();
      const window = parseBadgeWindow(c.req.query("window"));
      if (window instanceof Error) return c.text(`400 bad request: ${window.message}\n`, 400);
      const test = file.endsWith(".svg") ? file.slice(0, -4) : null;
      const check = test === null
        ? undefined
        : deps.source.check
        ? deps.source.check(host, test)?.check // reads one check's history, not all
        : deps.source.view().checks.find((x) => x.host === host && x.test === test);
      if (!check) {
        return c.text(
          `404 not found: no check ${
            JSON.stringify(`${host}/${file}`)
          } is configured (badges are /badge/<host>/<test>.svg)\n`,
          404,
        );
      }
      c.header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'");
      return c.body(badgeFor(check, window), 200, {
        "content-type": "image/svg+xml; charset=utf-8",
      });
    });
    app.get("/metrics", (c) => {
      // Sent in chunks with the event loop handed back before each: a scrape of 3,000 checks is
      // 57,000 samples, 4 MB of text and 50-100 ms of rendering in one piece, during which
      // /healthz, the peers' requests and the checks' own results would wait. The view is taken
      // once, so every chunk comes from the same moment.
      const chunks = registry.renderChunks(viewFamilies(deps.source.view({ history: false })));
      return c.body(chunkStream(chunks), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      });
    });
  };
}

/**
 * A response body that renders `chunks` one at a time as it is read, with the event loop handed
 * back before each (a timer turn: the node's requests, results and timers run in between).
 */
function chunkStream(chunks: Generator<string>): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      await nextTurn();
      const next = chunks.next();
      if (next.done) ctl.close();
      else ctl.enqueue(enc.encode(next.value));
    },
    cancel() {
      chunks.return(undefined);
    },
  });
}
