import assert from "node:assert/strict";
import { ProtocolError } from "../errors/mod.ts";
import { signedInit, testApp } from "./testing.ts";

const env = { remoteAddr: { hostname: "192.0.2.7", port: 40000 } };

Deno.test("app: other parts' routes are signed, get the body and the sender, and reply signed", async () => {
  const calls: { body: unknown; from: string }[] = [];
  const { app } = testApp({
    pingFields: () => ({ configDigest: "0123456789abcdef" }),
    routes: [
      {
        method: "GET",
        path: "/v1/x",
        handle: (body, from) => (calls.push({ body, from }), { a: 1 }),
      },
      {
        method: "POST",
        path: "/v1/y",
        handle: (body) => {
          if ((body as { bad?: boolean }).bad) throw new ProtocolError("'bad' is not allowed");
          // A route cannot pretend to be another node: `node` is always this one's.
          return Promise.resolve({ echo: body, node: "someone-else" });
        },
      },
    ],
  });
  const ping = await app.request(
    "/v1/batch/ping",
    await signedInit("POST", "/v1/batch/ping", {}),
    env,
  );
  assert.deepEqual(await ping.json(), { configDigest: "0123456789abcdef", node: "node-b" });
  const x = await app.request("/v1/x", await signedInit("GET", "/v1/x", undefined), env);
  assert.equal(x.status, 200);
  assert.ok(x.headers.get("x-dmonitor-signature"));
  assert.deepEqual(await x.json(), { a: 1, node: "node-b" });
  assert.deepEqual(calls, [{ body: null, from: "node-a" }]);
  const y = await app.request("/v1/y", await signedInit("POST", "/v1/y", { k: 2 }), env);
  assert.deepEqual(await y.json(), { echo: { k: 2 }, node: "node-b" });
  const bad = await app.request("/v1/y", await signedInit("POST", "/v1/y", { bad: true }), env);
  assert.equal(bad.status, 400);
  assert.deepEqual(await bad.json(), { error: "'bad' is not allowed" });
  const unsigned = await app.request("/v1/x", { method: "GET" }, env);
  assert.equal(unsigned.status, 401);
});
