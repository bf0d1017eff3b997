/**
 * What `dmonitor silence` and `dmonitor ack` ask the running node, on its listener:
 *
 * - `GET /v1/local/silences`: shared silences in force and this node's silence.d/ files;
 * - `POST /v1/local/silences` `{host, test, until, reason, by}`: adds one;
 * - `POST /v1/local/silences/remove` `{id, by}`: removes one;
 * - `POST /v1/local/ack` `{host, test, reason, by}`: acknowledges the open incident.
 *
 * They change what the whole cluster notifies, so they are stricter than the read-only status
 * view: only the node's own local token (`<state_dir>/status.token`, readable by the node's user
 * and root) is accepted, not `status.allow` nor `status.token_file`.
 * @module
 */
import type { Context, Hono } from "hono";
import { constantTimeEqual } from "../secret/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type OpenIncidentOf, SharedRequestError, type SharedState } from "./service.ts";

/** A silence.d/ file as the list shows it. */
export interface FileSilence {
  file: string;
  host: string;
  test: string | null;
  until: number;
  reason: string;
}

export interface LocalRouteDeps {
  shared: () => SharedState;
  /** The node's local token; null until written. */
  localToken: () => string | null;
  /** silence.d/ in force now. */
  fileSilences: () => readonly FileSilence[];
  openIncident: OpenIncidentOf;
  nodeName: () => string;
  clock?: () => number;
  logger?: Logger;
}

export const LOCAL_FORBIDDEN = "only 'dmonitor' on the node itself may change silences and " +
  "acknowledgements: it presents the node's local token (state_dir/status.token, readable by " +
  "the node's user and root)";

const MAX_BODY = 16 * 1024;

/** Mounts the routes (before the peer API, whose signature check covers the rest of /v1/). */
export function sharedLocalRoutes(deps: LocalRouteDeps): (app: Hono) => void {
  const clock = deps.clock ?? Date.now;
  const allowed = (c: Context) => {
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    const want = deps.localToken();
    return m !== null && want !== null && constantTimeEqual(m[1]!, want);
  };
  const body = async (c: Context): Promise<Record<string, unknown>> => {
    const raw = await c.req.arrayBuffer();
    if (raw.byteLength > MAX_BODY) throw new SharedRequestError(400, "request body too large");
    try {
      const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
      if (typeof v === "object" && v !== null && !Array.isArray(v)) return v;
    } catch { /* below */ }
    throw new SharedRequestError(400, "request body must be a JSON object");
  };
  const str = (o: Record<string, unknown>, k: string, nullable = false): string | null => {
    const v = o[k];
    if (typeof v === "string") return v;
    if (nullable && v === null) return null;
    throw new SharedRequestError(400, `'${k}' must be a string, got ${JSON.stringify(v)}`);
  };
  const handle = (run: (c: Context) => Promise<unknown>) => async (c: Context) => {
    if (!allowed(c)) return c.json({ error: LOCAL_FORBIDDEN }, 403);
    try {
      return c.json(await run(c));
    } catch (e) {
      if (e instanceof SharedRequestError) return c.json({ error: e.message }, e.status);
      throw e;
    }
  };
  return (app) => {
    app.get(
      "/v1/local/silences",
      handle(() => {
        const now = clock();
        return Promise.resolve({
          node: deps.nodeName(),
          now,
          shared: deps.shared().silences(),
          files: deps.fileSilences().filter((s) => now < s.until),
        });
      }),
    );
    app.post(
      "/v1/local/silences",
      handle(async (c) => {
        const b = await body(c);
        const until = b.until;
        if (typeof until !== "number") {
          throw new SharedRequestError(
            400,
            `'until' must be epoch ms, got ${JSON.stringify(until)}`,
          );
        }
        return await deps.shared().addSilence({
          host: str(b, "host")!,
          test: str(b, "test", true),
          until,
          reason: str(b, "reason")!,
          by: str(b, "by")!,
        });
      }),
    );
    app.post(
      "/v1/local/silences/remove",
      handle(async (c) => {
        const b = await body(c);
        return await deps.shared().removeSilence(str(b, "id")!, str(b, "by")!);
      }),
    );
    app.post(
      "/v1/local/ack",
      handle(async (c) => {
        const b = await body(c);
        return await deps.shared().ack({
          host: str(b, "host")!,
          test: str(b, "test")!,
          reason: str(b, "reason")!,
          by: str(b, "by")!,
        }, deps.openIncident);
      }),
    );
  };
}
