import assert from "node:assert/strict";
import { ssh } from "./ssh.ts";
import { closedPort, ctxFor, drain, PROMPT_MS, readAll, send, startTcpServer } from "./testing.ts";

Deno.test("ssh: OK on an SSH- banner; identifies itself and closes", async () => {
  let received: Promise<string> | undefined;
  await using srv = startTcpServer(async (conn) => {
    await send(conn, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    received = readAll(conn);
    await received;
  });
  const out = await ssh.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "OK", out.output);
  assert.match(
    out.output,
    new RegExp(`^SSH-2\\.0-OpenSSH_9\\.2p1 Debian-2 on port ${srv.port} in [\\d.]+ ms$`),
  );
  assert.match(out.perfdata ?? "", /^time=/);
  // readAll only returns once the check closed the socket.
  assert.equal(await received, "SSH-2.0-dmonitor\r\n");
});

Deno.test("ssh: the default port is 22", () => {
  assert.equal(ssh.params.port?.default, 22);
});

Deno.test("ssh: FAILs on a banner from another protocol", async () => {
  await using srv = startTcpServer(async (conn) => {
    await send(conn, "HTTP/1.1 400 Bad Request\r\n\r\n");
    await drain(conn);
  });
  const out = await ssh.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "FAIL");
  assert.equal(
    out.output,
    `127.0.0.1:${srv.port} sent "HTTP/1.1 400 Bad Request", not an SSH banner`,
  );
});

Deno.test("ssh: FAILs when the server closes without a banner", async () => {
  await using srv = startTcpServer(() => Promise.resolve());
  const out = await ssh.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.deepEqual(out, {
    status: "FAIL",
    output: `127.0.0.1:${srv.port} closed the connection before sending a banner`,
  });
});

Deno.test("ssh: FAILs on a refused port", async () => {
  const port = closedPort();
  const out = await ssh.run(ctxFor("127.0.0.1", { port }));
  assert.deepEqual(out, {
    status: "FAIL",
    output: `cannot connect to 127.0.0.1:${port}: Connection refused`,
  });
});

Deno.test("ssh: a server that never answers ends when the signal aborts", async () => {
  await using srv = startTcpServer(drain);
  const t0 = performance.now();
  const out = await ssh.run(ctxFor("127.0.0.1", { port: srv.port }, { timeoutMs: 200 }));
  const ms = performance.now() - t0;
  assert.ok(ms >= 150 && ms < PROMPT_MS, `took ${ms} ms`);
  assert.deepEqual(out, {
    status: "FAIL",
    output: `timed out after 200 ms waiting for the SSH banner from 127.0.0.1:${srv.port}`,
  });
});

Deno.test("ssh: an endless line without a newline is cut, not buffered forever", async () => {
  await using srv = startTcpServer(async (conn) => {
    await send(conn, "SSH-2.0-" + "x".repeat(5000));
    await drain(conn);
  });
  const out = await ssh.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "OK", out.output);
  assert.ok(out.output.length < 400, `output is ${out.output.length} chars`);
});
