import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import type { ParamValue } from "../config/types.ts";
import { certName, judgeCertificate, type PeerCertInfo, tls } from "./tls.ts";
import { closedPort, ctxFor, drain, PROMPT_MS, startTcpServer, testdata } from "./testing.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 0, 1);

Deno.test("judgeCertificate: expiry, trust and min_days, in that order", () => {
  const good: PeerCertInfo = { name: "www.test", validTo: NOW + 100 * DAY, authorized: true };
  const opts = { minDays: 14, insecure: false };
  const table: [PeerCertInfo, typeof opts, "OK" | "FAIL", string, string][] = [
    [good, opts, "OK", "certificate for www.test expires 2030-04-11 (100 days)", "days=100"],
    [
      { ...good, validTo: NOW + 10 * DAY },
      opts,
      "FAIL",
      "certificate for www.test expires 2030-01-11 (10 days), fewer than min_days 14",
      "days=10",
    ],
    [
      { ...good, validTo: NOW + 14 * DAY },
      opts,
      "OK",
      "certificate for www.test expires 2030-01-15 (14 days)",
      "days=14",
    ],
    [
      { ...good, validTo: NOW + 10 * DAY },
      { minDays: 0, insecure: false },
      "OK",
      "certificate for www.test expires 2030-01-11 (10 days)",
      "days=10",
    ],
    [
      { ...good, validTo: NOW - 3 * DAY, authorized: false, authError: "CERT_HAS_EXPIRED" },
      opts,
      "FAIL",
      "certificate for www.test expired 2029-12-29 (3 days ago)",
      "days=-3",
    ],
    [
      { ...good, validTo: NOW },
      { minDays: 0, insecure: true },
      "FAIL",
      "certificate for www.test expired 2030-01-01 (0 days ago)",
      "days=0",
    ],
    [
      { ...good, authorized: false, authError: "SELF_SIGNED_CERT_IN_CHAIN" },
      opts,
      "FAIL",
      "certificate for www.test is not trusted: SELF_SIGNED_CERT_IN_CHAIN, expires 2030-04-11 (100 days); set 'ca' or 'insecure'",
      "days=100",
    ],
    [
      { ...good, authorized: false, authError: "ERR_TLS_CERT_ALTNAME_INVALID" },
      opts,
      "FAIL",
      "certificate for www.test is not trusted: ERR_TLS_CERT_ALTNAME_INVALID, expires 2030-04-11 (100 days); set 'servername' or 'insecure'",
      "days=100",
    ],
    [
      { ...good, authorized: false, authError: "SELF_SIGNED_CERT_IN_CHAIN" },
      { minDays: 14, insecure: true },
      "OK",
      "certificate for www.test expires 2030-04-11 (100 days)",
      "days=100",
    ],
    [
      { ...good, name: "" },
      opts,
      "OK",
      "certificate for (no name) expires 2030-04-11 (100 days)",
      "days=100",
    ],
  ];
  for (const [cert, o, status, output, perfdata] of table) {
    assert.deepEqual(judgeCertificate(cert, o, NOW), { status, output, perfdata }, output);
  }
});

Deno.test("certName: CN, else the first subjectAltName", () => {
  assert.equal(
    certName({ subject: { CN: "a.test" }, subjectaltname: "DNS:b.test" } as never),
    "a.test",
  );
  assert.equal(
    certName({ subject: {}, subjectaltname: "DNS:b.test, DNS:c.test" } as never),
    "b.test",
  );
  assert.equal(
    certName({ subject: {}, subjectaltname: "IP Address:192.0.2.1" } as never),
    "192.0.2.1",
  );
  assert.equal(certName({ subject: {} } as never), "");
});

/** A TLS listener with a test certificate that completes handshakes and then holds the connection. */
function tlsServer(name: "server" | "expired") {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(testdata(`${name}.pem`)),
    key: Deno.readTextFileSync(testdata(`${name}.key`)),
  });
  const conns = new Set<Deno.TlsConn>();
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        // Reading drives the handshake; it ends when the client goes away.
        drain(conn).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        });
      }
    } catch { /* listener closed */ }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) c.close();
      await loop;
    },
  };
}

/** Days until the certificate's notAfter, computed the way the check does. */
function daysLeft(file: string): number {
  const cert = new X509Certificate(Deno.readTextFileSync(testdata(file)));
  return Math.floor((Date.parse(cert.validTo) - Date.now()) / DAY);
}

Deno.test("tls: OK with the expiry date and days left when the CA is trusted", async () => {
  await using srv = tlsServer("server");
  const out = await tls.run(ctxFor("127.0.0.1", { port: srv.port, ca: testdata("ca.pem") }));
  const days = daysLeft("server.pem");
  assert.ok(days > 30000);
  assert.deepEqual(out, {
    status: "OK",
    output: `certificate for localhost expires 2126-01-01 (${days} days)`,
    perfdata: `days=${days}`,
  });
});

Deno.test("tls: an untrusted chain FAILs unless insecure; servername is verified", async () => {
  await using srv = tlsServer("server");
  const untrusted = await tls.run(ctxFor("127.0.0.1", { port: srv.port }));
  assert.equal(untrusted.status, "FAIL");
  assert.match(
    untrusted.output,
    /^certificate for localhost is not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE, /,
  );
  const insecure = await tls.run(ctxFor("127.0.0.1", { port: srv.port, insecure: true }));
  assert.equal(insecure.status, "OK", insecure.output);
  const named = await tls.run(
    ctxFor("127.0.0.1", { port: srv.port, ca: testdata("ca.pem"), servername: "localhost" }),
  );
  assert.equal(named.status, "OK", named.output);
  const wrong = await tls.run(
    ctxFor("127.0.0.1", { port: srv.port, ca: testdata("ca.pem"), servername: "www.other.test" }),
  );
  assert.equal(wrong.status, "FAIL");
  assert.match(
    wrong.output,
    /not trusted: ERR_TLS_CERT_ALTNAME_INVALID, .*set 'servername' or 'insecure'$/,
  );
});

Deno.test("tls: FAILs when the certificate expires within min_days", async () => {
  await using srv = tlsServer("server");
  const out = await tls.run(
    ctxFor("127.0.0.1", { port: srv.port, ca: testdata("ca.pem"), min_days: 36500 }),
  );
  assert.equal(out.status, "FAIL");
  assert.equal(
    out.output,
    `certificate for localhost expires 2126-01-01 (${
      daysLeft("server.pem")
    } days), fewer than min_days 36500`,
  );
  assert.equal(tls.params.min_days?.default, 14);
  assert.equal(tls.params.port?.default, 443);
});

Deno.test("tls: an expired certificate FAILs, even with insecure", async () => {
  await using srv = tlsServer("expired");
  for (
    const params of [{ ca: testdata("ca.pem") }, { insecure: true }] as Record<string, ParamValue>[]
  ) {
    const out = await tls.run(ctxFor("127.0.0.1", { port: srv.port, ...params }));
    assert.equal(out.status, "FAIL");
    assert.equal(
      out.output,
      `certificate for localhost expired 2001-01-01 (${-daysLeft("expired.pem")} days ago)`,
    );
  }
});

Deno.test("tls: refused port and unreadable ca FAIL with one line", async () => {
  const port = closedPort();
  assert.deepEqual(await tls.run(ctxFor("127.0.0.1", { port })), {
    status: "FAIL",
    output: `TLS handshake with 127.0.0.1:${port} failed: Connection refused`,
  });
  const ca = await tls.run(ctxFor("127.0.0.1", { port, ca: "/nonexistent/ca.pem" }));
  assert.equal(ca.status, "FAIL");
  assert.match(ca.output, /^cannot read ca file "\/nonexistent\/ca\.pem": /);
});

Deno.test("tls: a server that never answers the ClientHello ends when the signal aborts", async () => {
  await using srv = startTcpServer(drain);
  const t0 = performance.now();
  const out = await tls.run(ctxFor("127.0.0.1", { port: srv.port }, { timeoutMs: 200 }));
  assert.ok(performance.now() - t0 < PROMPT_MS);
  assert.deepEqual(out, {
    status: "FAIL",
    output: `timed out after 200 ms during the TLS handshake with 127.0.0.1:${srv.port}`,
  });
});
