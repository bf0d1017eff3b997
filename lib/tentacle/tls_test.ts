// TLS from the first byte, with the certificates in testdata/tls.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { PeerError } from "../errors/mod.ts";
import { TentacleClient } from "./client.ts";
import { Raw, startTestServer, tlsFile } from "./testing.ts";

const serverTls = (ca?: string) => ({
  tls: {
    certFile: tlsFile("server.crt"),
    keyFile: tlsFile("server.key"),
    ...(ca ? { caFile: tlsFile(ca) } : {}),
  },
});

Deno.test("TLS with -f: a client certificate from that CA is required", async () => {
  await using s = await startTestServer(serverTls("ca.crt"));
  const good = await TentacleClient.connect({
    port: s.port,
    tls: {
      certFile: tlsFile("client.crt"),
      keyFile: tlsFile("client.key"),
      caFile: tlsFile("ca.crt"),
    },
  });
  await good.quit();
  // No certificate, or one from a foreign CA: refused (during the handshake, or right after it
  // under TLS 1.3, where the client learns of the refusal on its first read).
  for (
    const [what, opts] of [
      ["no certificate", true],
      ["foreign CA", {
        certFile: tlsFile("foreign-client.crt"),
        keyFile: tlsFile("foreign-client.key"),
      }],
    ] as const
  ) {
    const attempt = (async () => {
      const c = await TentacleClient.connect({ port: s.port, tls: opts, idleTimeoutMs: 2000 });
      await c.send("x", new TextEncoder().encode("x")); // TLS 1.3: refusal seen on first read
    })();
    await assert.rejects(
      attempt,
      (e: Error) => e instanceof PeerError && /CertificateRequired|closed|failed/.test(e.message),
      what,
    );
  }
  assert.ok(
    s.logs.filter((l) => l.includes("TLS handshake failed")).length >= 2,
    s.logs.join("\n"),
  );
});

Deno.test("TLS without -f: no client certificate needed; a plain client gets nothing", async () => {
  await using s = await startTestServer(serverTls());
  const c = await TentacleClient.connect({ port: s.port, tls: true });
  await c.send("x.data", new TextEncoder().encode("over tls"));
  await c.quit();
  // TLS is implicit from the first byte: a plaintext command is a failed handshake, not a command.
  using raw = await Raw.open(s.port);
  await raw.write("SEND <y.data> SIZE 1\n");
  assert.ok(!(await raw.rest(3000)).includes("SEND OK"));
});

Deno.test("client -f verifies the server: CA and address must match", async () => {
  await using s = await startTestServer(serverTls());
  const ok = await TentacleClient.connect({
    port: s.port,
    tls: {
      certFile: tlsFile("client.crt"),
      keyFile: tlsFile("client.key"),
      caFile: tlsFile("ca.crt"),
    },
  });
  assert.ok(ok.peer.endsWith(String(s.port)));
  await ok.quit();
  await assert.rejects(
    TentacleClient.connect({
      port: s.port,
      tls: {
        certFile: tlsFile("client.crt"),
        keyFile: tlsFile("client.key"),
        caFile: tlsFile("foreign-ca.crt"),
      },
    }),
    /Cannot connect/,
  );
  // 127.0.121.10 (this file's block, tests/util.ts) is loopback, in no certificate's SAN.
  await using far = await startTestServer({ ...serverTls(), addresses: ["127.0.121.10"] });
  await assert.rejects(
    TentacleClient.connect({
      host: "127.0.121.10",
      port: far.port,
      tls: { caFile: tlsFile("ca.crt") },
    }),
    /Cannot connect/,
  );
  await (await TentacleClient.connect({ host: "127.0.121.10", port: far.port, tls: true })).quit();
});

Deno.test("testdata/tls: v3 certificates with the promised subjectAltName and chains", () => {
  const load = (f: string) => new X509Certificate(Deno.readTextFileSync(tlsFile(f)));
  const server = load("server.crt");
  for (let i = 1; i <= 9; i++) {
    assert.ok(server.subjectAltName!.includes(`IP Address:127.0.0.${i}`));
  }
  assert.ok(server.subjectAltName!.includes("DNS:localhost"));
  assert.ok(new Date(server.validTo).getFullYear() > 2100);
  const ca = load("ca.crt");
  assert.ok(ca.ca);
  assert.ok(server.verify(ca.publicKey));
  assert.ok(load("client.crt").verify(ca.publicKey));
  assert.ok(!load("foreign-client.crt").verify(ca.publicKey));
  assert.ok(load("foreign-client.crt").verify(load("foreign-ca.crt").publicKey));
});

Deno.test("TLS: the connection cap answers after the handshake too", async () => {
  await using s = await startTestServer({ ...serverTls(), maxConnections: 1 });
  await using first = await TentacleClient.connect({ port: s.port, tls: true });
  await using second = await TentacleClient.connect({ port: s.port, tls: true, probe: false });
  await assert.rejects(second.send("a", new TextEncoder().encode("x")), /SEND ERR \(server busy\)/);
  assert.ok(first.features.has("smv") === false); // not insecure: no safe move offered
});
