import assert from "node:assert/strict";
import { BODY_CAP, http, https, judgeResponse } from "./http.ts";
import { closedPort, ctxFor, drain, PROMPT_MS, startTcpServer, testdata } from "./testing.ts";

Deno.test("judgeResponse: status and body rules", () => {
  const a = { url: "http://h:80/", status: 200, ms: 3, body: "all good" };
  const table: [typeof a, { status?: number; body?: string }, "OK" | "FAIL", string][] = [
    [a, {}, "OK", "HTTP 200 from http://h:80/ in 3.0 ms"],
    [{ ...a, status: 301 }, {}, "OK", "HTTP 301 from http://h:80/ in 3.0 ms"],
    [
      { ...a, status: 404 },
      {},
      "FAIL",
      "HTTP 404 from http://h:80/ in 3.0 ms, expected a status below 400",
    ],
    [{ ...a, status: 404 }, { status: 404 }, "OK", "HTTP 404 from http://h:80/ in 3.0 ms"],
    [a, { status: 204 }, "FAIL", "HTTP 200 from http://h:80/ in 3.0 ms, expected 204"],
    [a, { body: "good" }, "OK", 'HTTP 200 from http://h:80/ in 3.0 ms, body contains "good"'],
    [
      a,
      { body: "bad" },
      "FAIL",
      'HTTP 200 from http://h:80/ in 3.0 ms, but the body does not contain "bad"',
    ],
    [{ ...a, ms: 1234.4 }, {}, "OK", "HTTP 200 from http://h:80/ in 1234 ms"],
  ];
  for (const [answer, want, status, output] of table) {
    assert.deepEqual(judgeResponse(answer, want), {
      status,
      output,
      perfdata: `time=${(answer.ms / 1000).toFixed(6)}s`,
    });
  }
});

/** A plain or TLS Deno.serve on 127.0.0.1 that records each request's URL and Host header. */
function serve(tlsFiles?: { cert: string; key: string }) {
  const seen: { url: string; host: string | null }[] = [];
  const tlsOpts = tlsFiles
    ? {
      cert: Deno.readTextFileSync(testdata(tlsFiles.cert)),
      key: Deno.readTextFileSync(testdata(tlsFiles.key)),
    }
    : {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...tlsOpts },
    (req) => {
      const url = new URL(req.url);
      seen.push({ url: req.url, host: req.headers.get("host") });
      switch (url.pathname) {
        case "/":
          return new Response("<h1>dmonitor test page</h1>");
        case "/moved":
          return new Response(null, { status: 301, headers: { location: "/elsewhere-that-404s" } });
        case "/broken":
          return new Response("oops", { status: 500 });
        case "/big":
          // A body larger than the cap with the marker after it: the check must stop reading.
          return new Response("x".repeat(BODY_CAP + 10) + "MARKER");
        default:
          return new Response("not found", { status: 404 });
      }
    },
  );
  return {
    port: server.addr.port,
    seen,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("http: OK on 200 with status and time; sends the Host header", async () => {
  await using srv = serve();
  const out = await http.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "OK", out.output);
  assert.match(
    out.output,
    new RegExp(`^HTTP 200 from http://127\\.0\\.0\\.1:${srv.port}/ in [\\d.]+ ms$`),
  );
  assert.deepEqual(srv.seen, [{
    url: `http://127.0.0.1:${srv.port}/`,
    host: `127.0.0.1:${srv.port}`,
  }]);
});

Deno.test("http: defaults are port 80 and path /", () => {
  assert.equal(http.params.port?.default, 80);
  assert.equal(https.params.port?.default, 443);
  assert.equal(http.params.path?.default, "/");
});

Deno.test("http: redirects are not followed; a 301 passes by default", async () => {
  await using srv = serve();
  const out = await http.run(ctxFor("127.0.0.1", { port: srv.port, path: "/moved" }));
  assert.equal(out.status, "OK", out.output);
  assert.match(out.output, /^HTTP 301 /);
  assert.equal(srv.seen.length, 1, "only one request: the redirect was not followed");
});

Deno.test("http: 404 and 500 FAIL by default; expect_status makes 404 pass", async () => {
  await using srv = serve();
  const broken = await http.run(ctxFor("127.0.0.1", { port: srv.port, path: "/broken" }));
  assert.equal(broken.status, "FAIL");
  assert.match(broken.output, /^HTTP 500 .*, expected a status below 400$/);
  const gone = await http.run(
    ctxFor("127.0.0.1", { port: srv.port, path: "missing", expect_status: 404 }),
  );
  assert.equal(gone.status, "OK", gone.output);
  assert.ok(gone.output.includes(`:${srv.port}/missing in`), "a path without a leading / gets one");
  const wrong = await http.run(ctxFor("127.0.0.1", { port: srv.port, expect_status: 204 }));
  assert.equal(wrong.status, "FAIL");
  assert.match(wrong.output, /, expected 204$/);
});

Deno.test("http: expect_body searches the body, up to the 1 MiB cap", async () => {
  await using srv = serve();
  const yes = await http.run(ctxFor("127.0.0.1", { port: srv.port, expect_body: "test page" }));
  assert.equal(yes.status, "OK", yes.output);
  const no = await http.run(ctxFor("127.0.0.1", { port: srv.port, expect_body: "welcome" }));
  assert.equal(no.status, "FAIL");
  assert.match(no.output, /but the body does not contain "welcome"$/);
  const big = await http.run(
    ctxFor("127.0.0.1", { port: srv.port, path: "/big", expect_body: "MARKER" }),
  );
  assert.equal(big.status, "FAIL");
  assert.match(big.output, /but the first 1048576 bytes of the body does not contain "MARKER"$/);
});

Deno.test("http: a refused port FAILs with the URL and the error", async () => {
  const port = closedPort();
  const out = await http.run(ctxFor("127.0.0.1", { port }));
  assert.equal(out.status, "FAIL");
  assert.match(
    out.output,
    new RegExp(`^cannot get http://127\\.0\\.0\\.1:${port}/: .*[Cc]onnection refused`),
  );
});

Deno.test("http: a server that accepts and never answers ends when the signal aborts", async () => {
  await using srv = startTcpServer(drain);
  const t0 = performance.now();
  const out = await http.run(ctxFor("127.0.0.1", { port: srv.port }, { timeoutMs: 200 }));
  assert.ok(performance.now() - t0 < PROMPT_MS);
  assert.deepEqual(out, {
    status: "FAIL",
    output: `timed out after 200 ms waiting for http://127.0.0.1:${srv.port}/`,
  });
});

Deno.test("https: OK against the test server when 'ca' trusts the test CA", async () => {
  await using srv = serve({ cert: "server.pem", key: "server.key" });
  const out = await https.run(
    ctxFor("127.0.0.1", { port: srv.port, ca: testdata("ca.pem"), expect_body: "dmonitor" }),
  );
  assert.equal(out.status, "OK", out.output);
  assert.match(
    out.output,
    new RegExp(
      `^HTTP 200 from https://127\\.0\\.0\\.1:${srv.port}/ in [\\d.]+ ms, body contains "dmonitor"$`,
    ),
  );
  assert.equal(srv.seen[0]?.url, `https://127.0.0.1:${srv.port}/`);
});

Deno.test("https: an unknown issuer FAILs with a hint; 'insecure' accepts it", async () => {
  await using srv = serve({ cert: "server.pem", key: "server.key" });
  const strict = await https.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(strict.status, "FAIL");
  assert.match(
    strict.output,
    /^cannot get https:\/\/127\.0\.0\.1:\d+\/: .*UnknownIssuer.*set 'ca' for a private CA, or 'insecure'\)$/,
  );
  const insecure = await https.run(
    ctxFor("127.0.0.1", { port: srv.port, insecure: true, expect_body: "test page" }),
  );
  assert.equal(insecure.status, "OK", insecure.output);
  const status = await https.run(
    ctxFor("127.0.0.1", { port: srv.port, insecure: true, path: "/broken" }),
  );
  assert.equal(status.status, "FAIL");
  assert.match(status.output, /^HTTP 500 /);
});

Deno.test("https: an expired certificate FAILs even with the right CA", async () => {
  await using srv = serve({ cert: "expired.pem", key: "expired.key" });
  const out = await https.run(ctxFor("127.0.0.1", { port: srv.port, ca: testdata("ca.pem") }));
  assert.equal(out.status, "FAIL");
  assert.match(out.output, /[Ee]xpired/);
});

Deno.test("https: an unreadable ca file FAILs naming the file", async () => {
  const out = await https.run(ctxFor("127.0.0.1", { port: 1, ca: "/nonexistent/ca.pem" }));
  assert.equal(out.status, "FAIL");
  assert.match(out.output, /^cannot read ca file "\/nonexistent\/ca\.pem": /);
});

Deno.test("https: a TLS server that never completes the handshake ends on abort (both paths)", async () => {
  await using srv = startTcpServer(drain);
  for (const insecure of [false, true]) {
    const t0 = performance.now();
    const out = await https.run(
      ctxFor("127.0.0.1", { port: srv.port, insecure }, { timeoutMs: 200 }),
    );
    assert.ok(performance.now() - t0 < PROMPT_MS, `insecure=${insecure}`);
    assert.equal(out.output, `timed out after 200 ms waiting for https://127.0.0.1:${srv.port}/`);
  }
});
