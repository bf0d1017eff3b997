import assert from "node:assert/strict";
import { Hono } from "hono";
import { memoryLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { parseStatusSettings } from "./settings.ts";
import { statusRoutes } from "./routes.ts";
import { sampleCheckPage, sampleView } from "./testing.ts";
import { badgeFor } from "./badge.ts";
import type { StatusAccess } from "./access.ts";

const TOKEN = "tok-0123456789abcdef";

function app(
  access: StatusAccess = { settings: parseStatusSettings(undefined, []), token: TOKEN },
) {
  const registry = new Registry();
  registry.counter("dmonitor_plugin_timeouts_total", "Plugins killed.").inc({}, 2);
  const view = sampleView();
  const hono = new Hono();
  hono.get("/healthz", (c) => c.text("ok\n"));
  const page = sampleCheckPage();
  const source = {
    view: () => view,
    check: (h: string, t: string) => h === page.check.host && t === page.check.test ? page : null,
  };
  statusRoutes({ source, access, registry })(hono);
  return { view, app: hono };
}

const from = (hostname: string) => ({ remoteAddr: { transport: "tcp", hostname, port: 40000 } });

Deno.test("loopback clients get the page, the same view as JSON, and metrics", async () => {
  const { app: a, view } = app();
  const page = await a.request("/", {}, from("127.0.0.1"));
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  assert.equal(page.headers.get("cache-control"), "no-store");
  assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
  assert.match(await page.text(), /1 of 4 checks down/);

  const json = await a.request("/v1/status", {}, from("::1"));
  assert.equal(json.status, 200);
  assert.deepEqual(await json.json(), view);

  const m = await a.request("/metrics", {}, from("::ffff:127.0.0.1"));
  assert.equal(m.status, 200);
  assert.equal(m.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await m.text();
  assert.match(text, /^dmonitor_plugin_timeouts_total 2$/m);
  assert.match(text, /^dmonitor_check_up\{host="db.example.com",test="tcp"\} 0$/m);
  assert.match(
    text,
    /^dmonitor_check_duration_seconds\{host="mail.example.com",test="smtp"\} 10$/m,
  );
  assert.match(text, /^dmonitor_incidents_open\{phase="down"\} 1$/m);
  assert.match(text, /^dmonitor_peer_rtt_seconds\{peer="10.0.0.2:2929"\} 0.0024$/m);
  assert.match(text, /^dmonitor_peer_errors_total\{peer="10.0.0.3:2929"\} 17$/m);
  assert.match(text, /^dmonitor_outbox_depth 1$/m);
  assert.match(text, /^dmonitor_sync_lag_seconds\{site="plant-7"\} 95$/m);

  assert.equal(
    (await a.request("/healthz", {}, from("192.0.2.1"))).status,
    200,
    "liveness stays open",
  );
});

Deno.test("other clients are refused unless they present the token", async () => {
  const { app: a } = app();
  for (
    const path of [
      "/",
      "/v1/status",
      "/metrics",
      "/check/www.example.com/https",
      "/badge/www.example.com/https.svg",
    ]
  ) {
    const r = await a.request(path, {}, from("192.0.2.7"));
    assert.equal(r.status, 403, path);
    assert.match(await r.text(), /status.allow.*status.token_file/s);
    const bad = await a.request(
      path,
      { headers: { authorization: "Bearer nope" } },
      from("192.0.2.7"),
    );
    assert.equal(bad.status, 403);
    const good = await a.request(
      path,
      { headers: { authorization: `Bearer ${TOKEN}` } },
      from("192.0.2.7"),
    );
    assert.equal(good.status, 200, path);
  }
  // A browser: ?token= once sets a cookie and redirects to the clean URL; the cookie then suffices.
  const r = await a.request(`/v1/status?token=${TOKEN}`, {}, from("192.0.2.7"));
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "status");
  const cookie = r.headers.get("set-cookie")!;
  assert.match(
    cookie,
    /^dmonitor_status=tok-0123456789abcdef; Path=\/; HttpOnly; SameSite=Strict$/,
  );
  const withCookie = await a.request(
    "/",
    { headers: { cookie: cookie.split(";")[0]! } },
    from("192.0.2.7"),
  );
  assert.equal(withCookie.status, 200);
  assert.equal(
    (await a.request(`/?token=${TOKEN}`, {}, from("192.0.2.7"))).headers.get("location"),
    "./",
  );
});

Deno.test("read-only: other methods get 405; allow list opens a network; no token and empty allow closes all", async () => {
  const { app: a } = app();
  assert.equal((await a.request("/", { method: "POST" }, from("127.0.0.1"))).status, 405);
  assert.equal((await a.request("/metrics", { method: "DELETE" }, from("127.0.0.1"))).status, 405);
  const open =
    app({ settings: parseStatusSettings({ allow: ["192.0.2.0/24"] }, []), token: null }).app;
  assert.equal((await open.request("/", {}, from("192.0.2.200"))).status, 200);
  assert.equal(
    (await open.request("/", {}, from("127.0.0.1"))).status,
    403,
    "allow replaces the default",
  );
  const closed = app({ settings: parseStatusSettings({ allow: [] }, []), token: null }).app;
  assert.equal((await closed.request("/", {}, from("127.0.0.1"))).status, 403);
  assert.equal((await closed.request("/", {}, undefined)).status, 403, "no address known: refused");
});

Deno.test("3,000 refused requests make a bounded number of log lines that count them all", async () => {
  const logger = memoryLogger("info");
  const pending: (() => void)[] = [];
  const hono = new Hono();
  const view = sampleView();
  statusRoutes({
    source: { view: () => view },
    access: { settings: parseStatusSettings(undefined, []), token: TOKEN },
    registry: new Registry(),
    logger,
    refusalLog: {
      clock: () => 0,
      timers: { set: (fn) => pending.push(fn), clear: () => {} },
    },
  })(hono);
  for (let i = 0; i < 3000; i++) {
    const init = i % 2 ? { headers: { authorization: "Bearer wrong-token" } } : {};
    const r = await hono.request("/metrics", init, from(`192.0.2.${i % 200}`));
    assert.equal(r.status, 403);
  }
  for (const fire of pending.splice(0)) fire();
  const lines = logger.lines.filter((l) => /status requests? refused/.test(l));
  assert.ok(lines.length <= 42, `${lines.length} lines`);
  const counted = lines.reduce((n, l) => n + Number(/suppressed=(\d+)/.exec(l)?.[1] ?? 1), 0);
  assert.equal(counted, 3000, lines.join("\n"));
  assert.ok(lines.some((l) => /reason="bad token"/.test(l)));
  assert.ok(lines.some((l) => /reason="not allowed"/.test(l)));
});

Deno.test("per-check page and badges: found, not found, bad window; same access rules", async () => {
  const { app: a, view } = app();
  const page = await a.request("/check/www.example.com/https", {}, from("127.0.0.1"));
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
  const html = await page.text();
  assert.match(html, /<title>UP · www\.example\.com https · alpha · dmonitor<\/title>/);
  assert.match(html, /<svg class="tl"/);
  const missing = await a.request("/check/www.example.com/nope", {}, from("127.0.0.1"));
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /no check "www\.example\.com\/nope" is configured/);

  const badge = await a.request("/badge/www.example.com/https.svg", {}, from("127.0.0.1"));
  assert.equal(badge.status, 200);
  assert.equal(badge.headers.get("content-type"), "image/svg+xml; charset=utf-8");
  assert.equal(await badge.text(), badgeFor(view.checks[0]!, null));
  const up = await a.request("/badge/www.example.com/https.svg?window=7d", {}, from("::1"));
  assert.match(await up.text(), /aria-label="https uptime 7d: 99\.75%"/);
  const bad = await a.request("/badge/www.example.com/https.svg?window=1y", {}, from("::1"));
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /'window' must be 24h, 7d or 30d, got "1y"/);
  for (const p of ["/badge/www.example.com/https", "/badge/nowhere/https.svg"]) {
    assert.equal((await a.request(p, {}, from("127.0.0.1"))).status, 404, p);
  }
  // ?token= on a per-check page redirects to the same page, clean.
  const r = await a.request(`/check/www.example.com/https?token=${TOKEN}`, {}, from("192.0.2.7"));
  assert.equal(r.status, 303);
  assert.equal(r.headers.get("location"), "https");
});

Deno.test("the page and JSON are gzipped for clients that accept it", async () => {
  const { app: a } = app();
  const r = await a.request("/", { headers: { "accept-encoding": "gzip" } }, from("127.0.0.1"));
  assert.equal(r.headers.get("content-encoding"), "gzip");
  const html = await new Response(r.body!.pipeThrough(new DecompressionStream("gzip"))).text();
  assert.match(html, /1 of 4 checks down/);
  const plain = await a.request("/", {}, from("127.0.0.1"));
  assert.equal(plain.headers.get("content-encoding"), null);
});

Deno.test("/metrics of 3,000 checks comes in chunks, with the event loop run between them", async () => {
  const base = sampleView();
  const one = base.checks.find((c) => c.lastRun !== null)!;
  const checks = Array.from(
    { length: 3000 },
    (_, i) => ({ ...one, host: `10.0.${i >> 8}.${i & 255}` }),
  );
  const registry = new Registry();
  const hono = new Hono();
  statusRoutes({
    source: { view: () => ({ ...base, checks }) },
    access: { settings: parseStatusSettings(undefined, []), token: TOKEN },
    registry,
  })(hono);
  const res = await hono.request("/metrics", {}, from("127.0.0.1"));
  // Timers that come due while the body is being rendered run before it is complete.
  let ticks = 0;
  const tick = setInterval(() => ticks++, 0);
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  let ticksAtSecond = -1;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      if (parts.length === 2) ticksAtSecond = ticks;
    }
  } finally {
    clearInterval(tick);
  }
  assert.ok(parts.length > 10, `${parts.length} chunks`);
  assert.ok(ticksAtSecond >= 1, "a timer ran between the first chunks");
  const text = new TextDecoder().decode(
    parts.reduce((a, b) => {
      const all = new Uint8Array(a.length + b.length);
      all.set(a);
      all.set(b, a.length);
      return all;
    }, new Uint8Array()),
  );
  assert.equal(text.match(/^dmonitor_check_up\{/gm)?.length, 3000);
  assert.equal(text.match(/^# TYPE dmonitor_check_up gauge$/gm)?.length, 1);
  assert.match(text, /^dmonitor_check_up\{host="10.0.11.183",test="[^"]+"\} [01]$/m);
});

Deno.test("the page of 1,000 checks comes in chunks, with the event loop run between them", async () => {
  const base = sampleView();
  const checks = Array.from({ length: 1000 }, (_, i) => ({
    ...base.checks[i % base.checks.length]!,
    host: `10.1.${i >> 8}.${i & 255}`,
  }));
  const hono = new Hono();
  statusRoutes({
    source: { view: () => ({ ...base, checks }) },
    access: { settings: parseStatusSettings(undefined, []), token: TOKEN },
    registry: new Registry(),
  })(hono);
  const res = await hono.request("/", {}, from("127.0.0.1"));
  assert.match(res.headers.get("content-type")!, /^text\/html; charset=UTF-8/);
  let ticks = 0;
  const tick = setInterval(() => ticks++, 0);
  const reader = res.body!.getReader();
  const parts: string[] = [];
  const dec = new TextDecoder();
  let ticksAtSecond = -1;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(dec.decode(value, { stream: true }));
      if (parts.length === 2) ticksAtSecond = ticks;
    }
  } finally {
    clearInterval(tick);
  }
  assert.ok(parts.length >= 10, `${parts.length} chunks`);
  assert.ok(ticksAtSecond >= 1, "a timer ran between the first chunks");
  const html = parts.join("");
  assert.ok(html.startsWith("<!DOCTYPE html>") && html.trimEnd().endsWith("</html>"));
  assert.equal(html.match(/<li class="check /g)?.length, 1000);
});
