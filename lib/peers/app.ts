/**
 * The peer endpoint as a Hono app: `POST /v1/confirm`, `POST /v1/view`, `POST /v1/incident`,
 * `GET /v1/state` (all signed both ways) and `GET /healthz` (open, says only "ok"). Bodies are
 * capped, every request has a deadline, and one `onError` maps typed errors to status codes.
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ProtocolError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { deadline, nextTurn } from "../clock/mod.ts";
import type { IncidentView, LocalAnswer } from "../quorum/types.ts";
import {
  AuthError,
  HEADERS,
  importPeerKey,
  RequestVerifier,
  signReply,
  StaleRequestError,
} from "./auth.ts";
import {
  parseBatchConfirm,
  parseBatchIncident,
  parseBatchView,
  parseIncidentView,
  parseTargetRequest,
} from "./wire.ts";
import { LogLimiter } from "./log_limiter.ts";

export interface PeerAppDeps {
  /** This node's name, sent with every reply. */
  nodeName: string;
  /** The shared secret (`peer.key`), or null: then every /v1 request is refused. */
  key: string | null;
  /** The node names of this node's peers (from nodes.txt, a function so a reload applies): a
   * request from any other sender is refused, whatever its signature. */
  peers: () => readonly string[];
  log: Logger;
  clock?: () => number;
  /** Answer from a local result at most `maxAgeMs` old, else run the check now (or join the run
   * under way if it is new enough); null: test not configured. Without `maxAgeMs` (the single
   * /v1/confirm route), a result taken after the request arrived. */
  confirm(
    host: string,
    test: string,
    signal: AbortSignal,
    maxAgeMs?: number,
  ): Promise<LocalAnswer | null>;
  /** The last local result and incident state, without running anything; null: not configured. */
  view(host: string, test: string): LocalAnswer | null;
  /** A peer announces its incident state; false: test not configured here. Should not wait for a
   * round in progress on this node (hand the event to the engine and answer). */
  hear(host: string, test: string, from: string, view: IncidentView): Promise<boolean>;
  /** Everything for `GET /v1/state` (plain JSON). */
  state(): unknown;
  /** Fields added to every heartbeat reply (`POST /v1/batch/ping`), e.g. the configuration
   * digest (lib/agree). */
  pingFields?: () => Record<string, unknown>;
  /** Signed routes other parts own (lib/agree, lib/heartbeat), behind the same signature, body
   * cap and deadline. */
  routes?: readonly PeerRoute[];
  /** More signed routes, each concern in its own file (lib/shared/peer_routes.ts), mounted behind
   * the same signature, body cap and deadline middleware. */
  mounts?: readonly PeerRoutes[];
  /** Told of every authentic request: the sender's signed timestamp and this node's clock (how far
   * the peers' clocks are apart; also for a request refused as stale). */
  observeClock?: (peer: string, sentAt: number, now: number) => void;
  /** Largest request body accepted (default 16 KiB). */
  maxBodyBytes?: number;
  /** Overall deadline of one request (default 15 s: confirm may run a check). */
  requestDeadlineMs?: number;
  /** Accepted clock skew between peers (default 30 s). */
  skewMs?: number;
  maxNonces?: number;
  /** Most /v1 requests handled at once; more get 503 at once (default 256). */
  maxInFlight?: number;
  /** Most host/test pairs being confirmed at once over batch requests; a batch that would exceed
   * it is answered 503 with Retry-After (default 5000). */
  maxPendingConfirms?: number;
}

/**
 * A signed route another part owns: gets the parsed JSON body (null for GET), the sender's node
 * name and the request's deadline; what it returns (an object) is the signed reply, with `node`.
 * A ProtocolError it throws is a 400 naming the problem.
 */
export interface PeerRoute {
  method: "GET" | "POST";
  path: string;
  handle(
    body: unknown,
    from: string,
    signal: AbortSignal,
  ): Record<string, unknown> | Promise<Record<string, unknown>>;
}

type Env = {
  Bindings: { remoteAddr?: { hostname?: string; port?: number } } | undefined;
  Variables: { signal: AbortSignal; peer: string; nonce: string; body: Uint8Array };
};
export type PeerEnv = Env;

/** What an extra route file gets: the app (behind the middleware), a signed 200 JSON reply, the
 * parsed body, and the verified sender. */
export interface PeerRouteTools {
  reply(c: Context<Env>, payload: unknown): Promise<Response>;
  json(c: Context<Env>): unknown;
  sender(c: Context<Env>): string;
}
export type PeerRoutes = (app: Hono<Env>, tools: PeerRouteTools) => void;

import { DeadlineError } from "../errors/mod.ts";
export { DeadlineError };

const enc = new TextEncoder();

/** Builds the peer endpoint. */
export function createPeerApp(deps: PeerAppDeps): Hono<Env> {
  const clock = deps.clock ?? Date.now;
  const log = deps.log;
  const keyPromise = deps.key === null ? Promise.resolve(null) : importPeerKey(deps.key);
  let verifier: RequestVerifier | null = null;
  const getVerifier = async () =>
    verifier ??= new RequestVerifier({
      key: await keyPromise,
      skewMs: deps.skewMs,
      maxNonces: deps.maxNonces,
    });
  const rejections = new LogLimiter({ clock, perWindow: 20, windowMs: 10_000 });
  const deadlineMs = deps.requestDeadlineMs ?? 15_000;
  const bodyDeadlineMs = Math.min(deadlineMs, 2000);
  const app = new Hono<Env>();

  app.get("/healthz", (c) => c.text("ok"));

  const maxInFlight = deps.maxInFlight ?? 256;
  let inFlight = 0;
  app.use("/v1/*", async (c, next) => {
    if (inFlight >= maxInFlight) {
      rejections.run("busy", (suppressed) =>
        log.warn("too many peer requests at once, refusing", {
          remote: c.env?.remoteAddr?.hostname ?? "unknown",
          in_flight: inFlight,
          suppressed: suppressed || undefined,
        }));
      return c.json({ error: "busy" }, 503);
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  });
  app.use("/v1/*", async (c, next) => {
    // Not request.signal: under Deno.serve it also fires after every successful response.
    // Disposed when the request is answered: no timer per request outlives it.
    using limit = deadline(deadlineMs);
    const signal = limit.signal;
    c.set("signal", signal);
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new DeadlineError(`request exceeded its ${deadlineMs} ms deadline`));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([next(), aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  });
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: deps.maxBodyBytes ?? 16 * 1024,
      onError: (c) => c.json({ error: "request body too large" }, 413),
    }),
  );
  app.use("/v1/*", async (c, next) => {
    // A slow (or slowloris) sender holds a slot: bodies are small, so give it little time.
    const body = new Uint8Array(await withTimeout(c.req.arrayBuffer(), bodyDeadlineMs));
    const url = new URL(c.req.url);
    const v = await getVerifier();
    const { node, nonce } = await v.verify(
      { method: c.req.method, path: url.pathname + url.search, headers: c.req.raw.headers, body },
      clock(),
      { self: [deps.nodeName], senders: deps.peers() },
    );
    deps.observeClock?.(node, Number(c.req.header(HEADERS.timestamp)), clock());
    c.set("peer", node);
    c.set("nonce", nonce);
    c.set("body", body);
    await next();
  });

  /** A signed 200 JSON reply. */
  const reply = async (c: Context<Env>, payload: unknown) => {
    const body = enc.encode(JSON.stringify(payload));
    const key = (await keyPromise)!;
    const signature = await signReply(key, {
      nonce: c.get("nonce"),
      status: 200,
      node: deps.nodeName,
      body,
    });
    return c.body(body, 200, {
      "content-type": "application/json",
      [HEADERS.node]: deps.nodeName,
      [HEADERS.signature]: signature,
    });
  };
  const json = (c: Context<Env>): unknown => {
    try {
      return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(c.get("body")));
    } catch {
      throw new ProtocolError("request body is not valid JSON");
    }
  };

  app.post("/v1/confirm", async (c) => {
    const { host, test } = parseTargetRequest(json(c));
    const answer = await deps.confirm(host, test, c.get("signal"));
    return reply(c, { node: deps.nodeName, ...(answer ?? notConfigured(clock())) });
  });
  app.post("/v1/view", (c) => {
    const { host, test } = parseTargetRequest(json(c));
    return reply(c, { node: deps.nodeName, ...(deps.view(host, test) ?? notConfigured(clock())) });
  });
  app.post("/v1/incident", async (c) => {
    const view = parseIncidentView(json(c), "body");
    const known = await deps.hear(view.host, view.test, c.get("peer"), view);
    return reply(c, { node: deps.nodeName, known });
  });
  app.get("/v1/state", (c) => reply(c, { node: deps.nodeName, state: deps.state() }));
  addBatchRoutes(app, deps, reply, json, clock);
  for (const r of deps.routes ?? []) {
    app.on(r.method, r.path, async (c) => {
      const body = r.method === "POST" ? json(c) : null;
      const out = await r.handle(body, c.get("peer"), c.get("signal"));
      return reply(c, { ...out, node: deps.nodeName });
    });
  }
  for (const add of deps.mounts ?? []) add(app, { reply, json, sender: (c) => c.get("peer") });

  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((err, c) => {
    const remote = c.env?.remoteAddr?.hostname ?? "unknown";
    if (err instanceof StaleRequestError && err.sender !== null) {
      deps.observeClock?.(err.sender, clock() + err.skewMs, clock());
    }
    if (err instanceof AuthError) {
      rejections.run(err.reason, (suppressed) =>
        log.warn("rejected peer request", {
          reason: err.reason,
          detail: err.message,
          remote,
          method: c.req.method,
          path: c.req.path,
          claimed_node: c.req.header(HEADERS.node)?.slice(0, 64),
          suppressed: suppressed || undefined,
        }), (suppressed) =>
        log.warn("rejected peer requests, not logged one by one", {
          reason: err.reason,
          suppressed,
        }));
      if (err.reason === "overloaded") return c.json({ error: "busy" }, 503);
      return c.json({ error: "unauthorized" }, 401);
    }
    if (err instanceof ProtocolError) {
      log.warn("bad peer request", {
        remote,
        peer: c.get("peer"),
        path: c.req.path,
        error: err.message,
      });
      return c.json({ error: err.message }, 400);
    }
    if (err instanceof DeadlineError) {
      log.warn("peer request deadline exceeded", { remote, peer: c.get("peer"), path: c.req.path });
      return c.json({ error: "deadline exceeded" }, 503);
    }
    if (err instanceof HTTPException) return err.getResponse();
    log.error("peer request failed", { remote, path: c.req.path, error: String(err) });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineError(`request body not received within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Items of a batch started per turn of the event loop: a 1,000-pair request never runs as one
 * block of synchronous work (other requests, `/healthz` included, are answered in between). */
const BATCH_TURN = 50;

/** Starts `fn` for every item, BATCH_TURN per turn of the event loop; resolves when all have. */
async function inTurns<T>(items: readonly T[], fn: (item: T, i: number) => Promise<void>) {
  const running: Promise<void>[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % BATCH_TURN === 0) await nextTurn();
    running.push(fn(items[i]!, i));
  }
  await Promise.all(running);
}

function notConfigured(now: number): LocalAnswer {
  return { status: "UNKNOWN", output: "test not configured on this node", at: now, incident: null };
}

// ---- Batch routes: many host/test pairs per request (see wire.ts) ----

/** Seconds a busy node asks a batch sender to wait (HTTP Retry-After). */
export const BATCH_RETRY_AFTER_S = 1;

/**
 * `POST /v1/batch/confirm`, `/v1/batch/view`, `/v1/batch/incident` (and the heartbeat
 * `/v1/batch/ping`): the single-pair routes for
 * many pairs at once, behind the same signature, body cap and deadline middleware. A confirm batch
 * answers within the asker's `waitMs`: a check still running by then is answered UNKNOWN ("still
 * checking"; it never counts as a failure) and its result serves the asker's next round.
 */
function addBatchRoutes(
  app: Hono<Env>,
  deps: PeerAppDeps,
  reply: (c: Context<Env>, payload: unknown) => Promise<Response>,
  json: (c: Context<Env>) => unknown,
  clock: () => number,
): void {
  const maxPending = deps.maxPendingConfirms ?? 5000;
  let pending = 0;
  app.post("/v1/batch/confirm", async (c) => {
    const { items, waitMs } = parseBatchConfirm(json(c));
    if (pending > 0 && pending + items.length > maxPending) {
      c.header("retry-after", String(BATCH_RETRY_AFTER_S));
      return c.json({ error: "busy", pending }, 503);
    }
    pending += items.length;
    const signal = c.get("signal");
    const answers: (LocalAnswer | null | undefined)[] = items.map(() => undefined);
    const all = inTurns(items, async (it, i) => {
      try {
        answers[i] = await deps.confirm(it.host, it.test, signal, it.maxAgeMs);
      } finally {
        pending--;
      }
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      all,
      new Promise((r) => (timer = setTimeout(r, Math.max(0, waitMs)))),
    ]).finally(() => clearTimeout(timer));
    const now = clock();
    return reply(c, {
      node: deps.nodeName,
      answers: items.map((it, i) => {
        const a = answers[i];
        if (a === undefined) {
          return {
            ...(deps.view(it.host, it.test) ?? notConfigured(now)),
            status: "UNKNOWN",
            output: "check still running",
            at: now,
          };
        }
        return a ?? notConfigured(now);
      }),
    });
  });
  app.post("/v1/batch/view", async (c) => {
    const { items } = parseBatchView(json(c));
    const now = clock();
    const answers: LocalAnswer[] = [];
    await inTurns(items, (it) => {
      answers.push(deps.view(it.host, it.test) ?? notConfigured(now));
      return Promise.resolve();
    });
    return reply(c, { node: deps.nodeName, answers });
  });
  // The heartbeat: proves both ends hold the key and the link works, costs nothing to answer.
  app.post("/v1/batch/ping", (c) => reply(c, { ...deps.pingFields?.(), node: deps.nodeName }));
  app.post("/v1/batch/incident", async (c) => {
    const { views } = parseBatchIncident(json(c));
    const peer = c.get("peer");
    const known: boolean[] = views.map(() => false);
    await inTurns(views, async (v, i) => {
      known[i] = await deps.hear(v.host, v.test, peer, v);
    });
    return reply(c, { node: deps.nodeName, known });
  });
}
