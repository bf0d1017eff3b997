import assert from "node:assert/strict";
import { Hono } from "hono";
import { createLogger } from "../log/mod.ts";
import { buildNodeApp } from "./http.ts";

function capture() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ min: "debug", write: (l: string) => lines.push(l) }) };
}

Deno.test("buildNodeApp: a failing status route is one log line and a bare 500, no stack", async () => {
  const { lines, logger } = capture();
  const peer = new Hono();
  peer.get("/v1/state", (c) => c.json({ ok: true }));
  const app = buildNodeApp({
    status: (a) => {
      a.get("/v1/status", () => {
        throw new Error("store is closed");
      });
    },
    peer,
    logger,
  });
  const res = await app.request("/v1/status");
  assert.equal(res.status, 500);
  const body = await res.text();
  assert.equal(body, JSON.stringify({ error: "internal error" }));
  assert.doesNotMatch(body, /at |store is closed/);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /request failed/);
  assert.match(lines[0]!, /store is closed/);
  assert.doesNotMatch(lines[0]!, /\n\s+at /);
});

Deno.test("buildNodeApp: one notFound for every path, peer routes still reached", async () => {
  const { logger } = capture();
  const peer = new Hono();
  peer.get("/v1/state", (c) => c.json({ ok: true }));
  const app = buildNodeApp({ status: () => {}, peer, logger });
  for (const path of ["/nope", "/v1/nope", "/v2/status"]) {
    const res = await app.request(path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: "not found" });
  }
  assert.deepEqual(await (await app.request("/v1/state")).json(), { ok: true });
});
