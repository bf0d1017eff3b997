import assert from "node:assert/strict";
import { parseReplyLine, smtp } from "./smtp.ts";
import { closedPort, ctxFor, drain, PROMPT_MS, readAll, send, startTcpServer } from "./testing.ts";

Deno.test("parseReplyLine: code, continuation and text", () => {
  const table: [string, ReturnType<typeof parseReplyLine>][] = [
    ["220 mx.example ESMTP", { code: 220, more: false, text: "mx.example ESMTP" }],
    ["220-mx.example hello", { code: 220, more: true, text: "mx.example hello" }],
    ["220", { code: 220, more: false, text: "" }],
    ["554 go away", { code: 554, more: false, text: "go away" }],
    ["SSH-2.0-OpenSSH", null],
    ["999 nope", null],
    ["", null],
  ];
  for (const [line, want] of table) assert.deepEqual(parseReplyLine(line), want, line);
});

/** An SMTP server that greets with `greeting`, then records what the client sends until EOF. */
function smtpServer(greeting: string) {
  const got: Promise<string>[] = [];
  const srv = startTcpServer(async (conn) => {
    await send(conn, greeting);
    const p = readAll(conn);
    got.push(p);
    await p;
  });
  return { srv, got };
}

Deno.test("smtp: OK on a 220 greeting, then QUIT and close", async () => {
  const { srv, got } = smtpServer("220 mx.test ESMTP Postfix\r\n");
  await using _ = srv;
  const out = await smtp.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "OK", out.output);
  assert.match(
    out.output,
    new RegExp(`^220 mx\\.test ESMTP Postfix on port ${srv.port} in [\\d.]+ ms$`),
  );
  assert.equal(await got[0], "QUIT\r\n");
});

Deno.test("smtp: reads a multi-line 220- greeting to its end", async () => {
  const { srv, got } = smtpServer("220-mx.test ESMTP\r\n220-no UCE\r\n220 welcome\r\n");
  await using _ = srv;
  const out = await smtp.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "OK", out.output);
  assert.ok(out.output.startsWith("220-mx.test ESMTP on port"), out.output);
  assert.equal(await got[0], "QUIT\r\n");
});

Deno.test("smtp: FAILs on a 554 greeting, still saying QUIT", async () => {
  const { srv, got } = smtpServer("554 5.7.1 no service for you\r\n");
  await using _ = srv;
  const out = await smtp.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(out.status, "FAIL");
  assert.equal(out.output, `127.0.0.1:${srv.port} refused service: 554 5.7.1 no service for you`);
  assert.equal(await got[0], "QUIT\r\n");
});

Deno.test("smtp: FAILs on a non-SMTP banner and on a close mid-greeting", async () => {
  {
    await using srv = startTcpServer(async (conn) => {
      await send(conn, "SSH-2.0-OpenSSH\r\n");
      await drain(conn);
    });
    const out = await smtp.run(ctxFor("127.0.0.1", { port: srv.port }));
    assert.equal(out.output, `127.0.0.1:${srv.port} sent "SSH-2.0-OpenSSH", not an SMTP reply`);
  }
  {
    await using srv = startTcpServer((conn) => send(conn, "220-first line only\r\n"));
    const out = await smtp.run(ctxFor("127.0.0.1", { port: srv.port }));
    assert.equal(out.status, "FAIL");
    assert.equal(out.output, `127.0.0.1:${srv.port} closed the connection mid-reply`);
  }
});

Deno.test("smtp: FAILs on a refused port; default port is 25", async () => {
  assert.equal(smtp.params.port?.default, 25);
  const port = closedPort();
  const out = await smtp.run(ctxFor("127.0.0.1", { port }));
  assert.deepEqual(out, {
    status: "FAIL",
    output: `cannot connect to 127.0.0.1:${port}: Connection refused`,
  });
});

Deno.test("smtp: a server that never greets ends when the signal aborts", async () => {
  await using srv = startTcpServer(drain);
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DOMException("t", "TimeoutError")), 200);
  const t0 = performance.now();
  const out = await smtp.run(
    ctxFor("127.0.0.1", { port: srv.port }, { signal: ctl.signal, timeoutMs: 200 }),
  );
  clearTimeout(timer);
  assert.ok(performance.now() - t0 < PROMPT_MS);
  assert.equal(out.status, "FAIL");
  assert.equal(
    out.output,
    `timed out after 200 ms waiting for the SMTP greeting from 127.0.0.1:${srv.port}`,
  );
});
