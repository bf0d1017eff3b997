/**
 * `POST /v1/push/<host>/<test>`: where jobs report that they ran. Open to anyone who holds the
 * test's token (`Authorization: Bearer TOKEN`, or `?token=TOKEN`), compared in constant time; the
 * body (optional, at most 4 KiB) gives its first line as the check's message. Every refusal is a
 * clear status and one JSON line saying why; refusals are logged rate-limited.
 * @module
 */
import { sha256 } from "../hash/mod.ts";
import type { Context, Hono } from "hono";
import type { Logger } from "../log/mod.ts";
import { LogLimiter } from "../peers/log_limiter.ts";
import { constantTimeEqual } from "../secret/mod.ts";
import { sanitizeText } from "../text/mod.ts";
import type { HeartbeatService } from "./service.ts";
import { MAX_MESSAGE } from "./wire.ts";

export const PUSH_PREFIX = "/v1/push/";
/** Largest push body accepted. */
export const MAX_PUSH_BODY = 4096;
const BODY_DEADLINE_MS = 5_000;

/** Thrown by {@link readCapped} for a body over the cap. */
class TooLarge extends Error {}

async function readCapped(req: Request, max: number): Promise<Uint8Array> {
  if (req.body === null) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const timer = setTimeout(() => reader.cancel().catch(() => {}), BODY_DEADLINE_MS);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        await reader.cancel().catch(() => {});
        throw new TooLarge();
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(timer);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) out.set(c, off), off += c.length;
  return out;
}

function presented(c: Context): string | null {
  const auth = c.req.header("authorization");
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1] ?? c.req.query("token") ?? null;
}

/** Mounts the push route on the node's app, before the signed peer API sees `/v1/*`. */
export function pushRoutes(deps: { service: HeartbeatService; log: Logger }) {
  const refusals = new LogLimiter({ clock: Date.now, perWindow: 10, windowMs: 10_000 });
  return (app: Hono) => {
    app.all(`${PUSH_PREFIX}*`, async (c) => {
      const remote = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr
        ?.hostname ?? "unknown";
      /** `why`: what the log says when the caller is told less (see the 403 below). */
      const refuse = (status: 400 | 401 | 403 | 404 | 405 | 413, error: string, why?: string) => {
        refusals.run(String(status), (suppressed) =>
          deps.log.warn("heartbeat push refused", {
            status,
            error: why ?? error,
            remote,
            suppressed: suppressed || undefined,
          }));
        return c.json({ error }, status);
      };
      const parts = c.req.path.slice(PUSH_PREFIX.length).split("/");
      let host = "", test = "";
      try {
        [host, test] = parts.map(decodeURIComponent) as [string, string];
      } catch {
        return refuse(400, "the path is not valid URL encoding");
      }
      if (parts.length !== 2 || !host || !test) {
        return refuse(404, "push to POST /v1/push/<host>/<test>");
      }
      const shown = sanitizeText(`${host}/${test}`).slice(0, 300);
      if (c.req.method !== "POST") {
        c.header("allow", "POST");
        return refuse(405, `push with POST, not ${c.req.method}`);
      }
      // Whether a heartbeat test exists is not told to a caller without its token: an unknown
      // test and a wrong token get the same answer (and the same hashing work); the log says
      // which it was.
      const t = deps.service.isHeartbeat(host, test);
      const token = presented(c);
      if (token === null) {
        c.header("www-authenticate", 'Bearer realm="dmonitor push"');
        return refuse(
          401,
          `missing token: send 'Authorization: Bearer TOKEN' (the 'token' of the heartbeat test ${shown})`,
          t ? undefined : `missing token, and no heartbeat test ${shown} is configured`,
        );
      }
      // Hashes of equal length: the comparison takes the same time whatever the token's length.
      const expected = sha256(t ? String(t.params.token ?? "") : crypto.randomUUID());
      if (!constantTimeEqual(sha256(token), expected) || !t) {
        return refuse(
          403,
          `no heartbeat test ${shown} with this token is configured on this node`,
          t ? `wrong token for ${shown}` : `no heartbeat test ${shown} is configured on this node`,
        );
      }
      const length = Number(c.req.header("content-length") ?? "0");
      if (!(length <= MAX_PUSH_BODY)) {
        return refuse(413, `body larger than ${MAX_PUSH_BODY} bytes`);
      }
      let body: Uint8Array;
      try {
        body = await readCapped(c.req.raw, MAX_PUSH_BODY);
      } catch (e) {
        if (e instanceof TooLarge) return refuse(413, `body larger than ${MAX_PUSH_BODY} bytes`);
        return refuse(400, "the body could not be read");
      }
      const firstLine = new TextDecoder().decode(body).split(/\r?\n/).find((l) => l.trim()) ?? "";
      const message = sanitizeText(firstLine).trim().slice(0, MAX_MESSAGE);
      const p = deps.service.received(host, test, message);
      deps.log.debug("heartbeat push", { host, test, remote });
      return c.json({ ok: true, host, test, at: new Date(p.at).toISOString(), node: p.via });
    });
  };
}
