import assert from "node:assert/strict";
import { tcp } from "./tcp.ts";
import { closedPort, ctxFor, drain, PROMPT_MS, startTcpServer } from "./testing.ts";

Deno.test("tcp: OK with the connect time when the port accepts, and the socket is closed", async () => {
  let sawEof = false;
  let done!: () => void;
  const closed = new Promise<void>((r) => done = r);
  await using srv = startTcpServer(async (conn) => {
    await drain(conn);
    sawEof = true;
    done();
  });
  const out = await tcp.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "OK", out.output);
  assert.match(
    out.output,
    new RegExp(`^connected to 127\\.0\\.0\\.1:${srv.port} in \\d+(\\.\\d)? ms$`),
  );
  assert.match(out.perfdata ?? "", /^time=\d+\.\d{6}s$/);
  await closed;
  assert.ok(sawEof, "the check closed its connection");
  assert.equal(srv.accepted, 1);
});

Deno.test("tcp: IPv6 literal hosts are bracketed in the output", async () => {
  await using srv = startTcpServer(drain, "::1");
  const out = await tcp.run(ctxFor("::1", { port: srv.port }));
  assert.equal(out.status, "OK", out.output);
  assert.ok(out.output.startsWith(`connected to [::1]:${srv.port} in `), out.output);
});

Deno.test("tcp: a refused port FAILs quickly, naming host:port and the error", async () => {
  const port = closedPort();
  const t0 = performance.now();
  const out = await tcp.run(ctxFor("127.0.0.1", { port }));
  assert.ok(performance.now() - t0 < PROMPT_MS);
  assert.deepEqual(out, {
    status: "FAIL",
    output: `cannot connect to 127.0.0.1:${port}: Connection refused`,
  });
});

Deno.test("tcp: an already aborted signal FAILs at once without connecting", async () => {
  await using srv = startTcpServer(drain);
  const signal = AbortSignal.abort(new DOMException("t", "TimeoutError"));
  const out = await tcp.run(ctxFor("127.0.0.1", { port: srv.port }, { signal, timeoutMs: 1000 }));
  assert.equal(out.status, "FAIL");
  assert.equal(out.output, `timed out after 1000 ms connecting to 127.0.0.1:${srv.port}`);
});

Deno.test("tcp: a missing or mistyped port is a FAIL, not a throw", async () => {
  const missing = await tcp.run(ctxFor("127.0.0.1", {}));
  assert.deepEqual(missing, { status: "FAIL", output: "tcp: parameter 'port' is required" });
  const typo = await tcp.run(ctxFor("127.0.0.1", { port: "ssh" }));
  assert.deepEqual(typo, {
    status: "FAIL",
    output: `tcp: parameter 'port' must be an integer, got "ssh"`,
  });
});
