/**
 * The node's one HTTP app on its listener: the status routes (page, JSON, metrics, open to the
 * allowed networks) and the signed peer API, with one `notFound` and one `onError` for all of it.
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "../log/mod.ts";

export interface NodeAppParts {
  /** Mounts the status routes (lib/status `statusRoutes(...)`). */
  status: (app: Hono) => void;
  /** Other open routes under /v1 that the signed peer API must not see (heartbeat pushes). */
  open?: ((app: Hono) => void)[];
  /** Routes for the CLI on this node (lib/shared `sharedLocalRoutes(...)`), mounted before the
   * peer API like the status routes. */
  local?: (app: Hono) => void;
  /** The peer API (lib/peers `createPeerApp(...)`), whatever its Env. */
  // deno-lint-ignore no-explicit-any
  peer: Hono<any>;
  logger: Logger;
}

/**
 * Builds the app. Status routes come first, so the peer API's signature check on /v1/* never sees
 * /v1/status. The peer API keeps its own error handler for its typed errors (401 with a bare body,
 * 400, 503): Hono applies a sub-app's `onError` to its routes through `route()`; everything else,
 * a failing status route included, ends here as one log line and a bare 500, never a stack trace.
 */
export function buildNodeApp(parts: NodeAppParts): Hono {
  const app = new Hono();
  parts.status(app);
  for (const mount of parts.open ?? []) mount(app);
  parts.local?.(app);
  app.route("/", parts.peer);
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    parts.logger.error("request failed", {
      method: c.req.method,
      path: c.req.path,
      error: (err as Error).message ?? String(err),
    });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
