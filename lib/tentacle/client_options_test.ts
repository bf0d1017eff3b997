import assert from "node:assert/strict";
import { clientOptionsFrom } from "./client_options.ts";

Deno.test("clientOptionsFrom: plain and TLS targets, probe only when asked", () => {
  assert.deepEqual(
    clientOptionsFrom({ host: "127.0.0.5", port: 41121, tls: null, timeoutMs: 2000 }),
    { host: "127.0.0.5", port: 41121, password: undefined, tls: false, idleTimeoutMs: 2000 },
  );
  const tls = { caFile: "/ca", certFile: "/c", keyFile: "/k" };
  assert.deepEqual(
    clientOptionsFrom({ host: "::1", port: 1, password: "p", tls, timeoutMs: 5 }, { probe: false }),
    { host: "::1", port: 1, password: "p", tls, idleTimeoutMs: 5, probe: false },
  );
});
