/**
 * `http` and `https`: one GET of `path`, redirects not followed (a 301 is an answer, and below 400),
 * always on a fresh connection so a server that stopped accepting cannot hide behind keep-alive.
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { CheckContext, CheckOutcome, ParamSpec } from "./types.ts";
import {
  abortText,
  defineCheck,
  errorText,
  fail,
  fmtMs,
  hostPort,
  ok,
  type Params,
  quote,
  since,
  timePerf,
} from "./util.ts";

/** How much of the body `expect_body` searches; a health page is small, a video is not. */
export const BODY_CAP = 1 << 20;

export interface HttpAnswer {
  url: string;
  status: number;
  ms: number;
  /** The first {@link BODY_CAP} bytes, read only when `expect_body` is set. */
  body?: string;
}

export interface HttpWant {
  status?: number;
  body?: string;
}

/** Decides an HTTP answer (pure): status as expected (default: below 400) and body substring. */
export function judgeResponse(a: HttpAnswer, want: HttpWant): CheckOutcome {
  const head = `HTTP ${a.status} from ${a.url} in ${fmtMs(a.ms)}`;
  const perf = timePerf(a.ms);
  if (want.status !== undefined ? a.status !== want.status : a.status >= 400) {
    return fail(`${head}, expected ${want.status ?? "a status below 400"}`, perf);
  }
  if (want.body !== undefined && !(a.body ?? "").includes(want.body)) {
    const where = (a.body?.length ?? 0) >= BODY_CAP
      ? `first ${BODY_CAP} bytes of the body`
      : "body";
    return fail(`${head}, but the ${where} does not contain ${quote(want.body)}`, perf);
  }
  return ok(want.body === undefined ? head : `${head}, body contains ${quote(want.body)}`, perf);
}

/** Reads at most {@link BODY_CAP} bytes of a body as text, then cancels the rest. */
async function readCapped(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const dec = new TextDecoder();
  let text = "";
  let n = 0;
  try {
    while (n < BODY_CAP) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, BODY_CAP - n);
      n += part.length;
      text += dec.decode(part, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text + dec.decode();
}

async function viaFetch(
  url: string,
  caCerts: string[],
  readBody: boolean,
  signal: AbortSignal,
): Promise<{ status: number; body?: string }> {
  // Our own client with no idle pool: every check opens a new connection, and nothing lingers.
  const client = Deno.createHttpClient({ caCerts, poolMaxIdlePerHost: 0 });
  try {
    const res = await fetch(url, {
      client,
      signal,
      redirect: "manual",
      headers: { "user-agent": "dmonitor" },
    });
    if (!readBody) {
      await res.body?.cancel();
      return { status: res.status };
    }
    return { status: res.status, body: await readCapped(res.body) };
  } finally {
    client.close();
  }
}

/**
 * `insecure: true` for https: Deno's fetch cannot skip certificate verification per request, so
 * this path uses node:https with `rejectUnauthorized: false`.
 */
async function viaNodeInsecure(
  url: URL,
  readBody: boolean,
  signal: AbortSignal,
): Promise<{ status: number; body?: string }> {
  // Loaded with the first such check: a node that has none never pays for node:https.
  const { request: httpsRequest } = await import("node:https");
  return await new Promise((resolve, reject) => {
    // Settle once, whatever fires first: response end, an error, or the signal mid-body.
    const onAbort = () => done(() => reject(signal.reason));
    const done = (settle: () => void) => {
      signal.removeEventListener("abort", onAbort);
      settle();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const req = httpsRequest(url, {
      method: "GET",
      agent: false,
      rejectUnauthorized: false,
      signal,
      headers: { "user-agent": "dmonitor" },
    }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (!readBody) {
        res.destroy();
        return done(() => resolve({ status }));
      }
      const dec = new TextDecoder();
      let body = "";
      let n = 0;
      res.on("data", (chunk: Uint8Array) => {
        const part = chunk.subarray(0, BODY_CAP - n);
        n += part.length;
        body += dec.decode(part, { stream: true });
        if (n >= BODY_CAP) {
          res.destroy();
          done(() => resolve({ status, body: body + dec.decode() }));
        }
      });
      res.on("end", () => done(() => resolve({ status, body: body + dec.decode() })));
      res.on("error", (e) => done(() => reject(e)));
    });
    req.on("error", (e) => done(() => reject(e)));
    req.end();
  });
}

function httpParams(defaultPort: number): Record<string, ParamSpec> {
  return {
    port: { type: "port", default: defaultPort, doc: "TCP port." },
    path: { type: "string", default: "/", doc: "Request path (and query), e.g. `/health`." },
    expect_status: {
      type: "int",
      min: 100,
      max: 599,
      doc: "Exact status required; when unset, any status below 400 passes.",
    },
    expect_body: { type: "string", doc: "Text the first 1 MiB of the body must contain." },
  };
}

async function runHttp(
  scheme: "http" | "https",
  ctx: CheckContext,
  p: Params,
): Promise<CheckOutcome> {
  const port = p.int("port");
  let path = p.str("path") ?? "/";
  if (!path.startsWith("/")) path = "/" + path;
  const want: HttpWant = { status: p.optInt("expect_status"), body: p.str("expect_body") };
  const insecure = scheme === "https" && p.bool("insecure");
  const caPath = scheme === "https" ? p.str("ca") : undefined;
  let url: URL;
  try {
    url = new URL(`${scheme}://${hostPort(ctx.host, port)}${path}`);
  } catch {
    return fail(`cannot build a URL from host ${quote(ctx.host)} and path ${quote(path)}`);
  }
  const caCerts: string[] = [];
  if (caPath !== undefined) {
    try {
      caCerts.push(await Deno.readTextFile(caPath));
    } catch (e) {
      return fail(`cannot read ca file ${quote(caPath)}: ${errorText(e)}`);
    }
  }
  const t0 = performance.now();
  try {
    const readBody = want.body !== undefined;
    const r = insecure
      ? await viaNodeInsecure(url, readBody, ctx.signal)
      : await viaFetch(url.href, caCerts, readBody, ctx.signal);
    return judgeResponse({ url: url.href, status: r.status, ms: since(t0), body: r.body }, want);
  } catch (e) {
    if (ctx.signal.aborted) return fail(`${abortText(ctx)} waiting for ${url.href}`);
    const msg = errorText(e);
    const untrusted = /UnknownIssuer|CaUsedAsEndEntity|NotValidForName|self.signed/i.test(msg);
    const hint = untrusted ? " (set 'ca' for a private CA, or 'insecure')" : "";
    return fail(`cannot get ${url.href}: ${msg}${hint}`);
  }
}

export const http = defineCheck({
  name: "http",
  doc: "GETs http://host:port/path; OK on the expected status (default: below 400) and body text.",
  params: httpParams(80),
}, (ctx, p) => runHttp("http", ctx, p));

export const https = defineCheck({
  name: "https",
  doc: "Like `http` over TLS; the certificate must be valid for the host unless `insecure`.",
  params: {
    ...httpParams(443),
    ca: {
      type: "string",
      doc: "Absolute path of a PEM CA bundle trusted in addition to the built-in roots.",
    },
    insecure: {
      type: "bool",
      default: false,
      doc:
        "Skip certificate verification (self-signed appliances); the `tls` check still sees expiry.",
    },
  },
}, (ctx, p) => runHttp("https", ctx, p));
