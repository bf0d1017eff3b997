import assert from "node:assert/strict";
import { parseBytes, parseSpoolSection } from "./settings.ts";

const ctx = { root: "/etc/dmonitor", node: "node-1", stateDir: "/var/lib/dmonitor" };

Deno.test("parseSpoolSection: defaults, absent section", () => {
  assert.deepEqual(parseSpoolSection(undefined, ctx), { settings: null, problems: [] });
  const { settings, problems } = parseSpoolSection({}, ctx);
  assert.deepEqual(problems, []);
  assert.deepEqual(settings, {
    directory: "/var/lib/dmonitor/spool",
    sendTo: null,
    agentName: "node-1",
    group: null,
    site: null,
    writeIntervalMs: 30_000,
    maxBytes: 100 * 1024 * 1024,
    maxAgeMs: 7 * 86_400_000,
    receiveConfig: false,
    pollMs: 10_000,
  });
});

Deno.test("parseSpoolSection: sending with TLS and client certificate, relative paths", () => {
  const { settings, problems } = parseSpoolSection({
    directory: "outgoing",
    send_to: "127.0.0.2:41122",
    ssl_ca: "tls/ca.crt",
    ssl_cert: "/tls/client.crt",
    ssl_key: "/tls/client.key",
    password: "s3cret",
    timeout: "5s",
    agent_name: "plant7-node1",
    site: "plant-7",
    group: "Plant 7",
    write_interval: "10s",
    max_size: "5MB",
    max_age: "2d",
    receive_config: true,
    poll_interval: 2,
  }, ctx);
  assert.deepEqual(problems, []);
  assert.equal(settings!.directory, "/etc/dmonitor/outgoing");
  assert.deepEqual(settings!.sendTo, {
    host: "127.0.0.2",
    port: 41122,
    tls: {
      caFile: "/etc/dmonitor/tls/ca.crt",
      certFile: "/tls/client.crt",
      keyFile: "/tls/client.key",
    },
    password: "s3cret",
    timeoutMs: 5000,
  });
  assert.equal(settings!.maxBytes, 5 * 1024 * 1024);
  assert.equal(settings!.maxAgeMs, 2 * 86_400_000);
  assert.equal(settings!.writeIntervalMs, 10_000);
  assert.equal(settings!.pollMs, 2000);
  assert.equal(settings!.agentName, "plant7-node1");
  assert.equal(settings!.receiveConfig, true);
  // Without a port: Tentacle's.
  assert.equal(parseSpoolSection({ send_to: "127.0.0.2" }, ctx).settings!.sendTo!.port, 41121);
  assert.equal(
    parseSpoolSection({ send_to: "127.0.0.2", ssl: true }, ctx).settings!.sendTo!.tls !== null,
    true,
  );
});

Deno.test("parseSpoolSection: every problem, each naming key and value", () => {
  const { settings, problems } = parseSpoolSection({
    max_size: "lots",
    max_age: "5s",
    agent_name: "bad name",
    send_to: "",
    ssl_cert: "c.crt",
    colour: "blue",
    write_interval: "1ms",
  }, ctx);
  assert.equal(settings, null);
  const lines = problems.map((p) => `${p.key} ${p.message}`);
  assert.deepEqual(lines, [
    `spool.max_size must be a size such as 100MB or 2GB, got "lots"`,
    `spool.max_age must be between 1m and 3650d, got "5s"`,
    `spool.agent_name must be an agent name (letters, digits, '.', '-', '_'), got "bad name"`,
    `spool.send_to must be the site Tentacle server as host or host:port, got ""`,
    `spool.colour is not a known setting (known: directory, send_to, ssl, ssl_ca, ssl_cert, ssl_key, password, timeout, agent_name, group, site, write_interval, max_size, max_age, receive_config, poll_interval)`,
    `spool.write_interval must be between 1s and 1d, got "1ms"`,
    "spool.ssl_cert and ssl_key must be given together (the client certificate and its key)",
    "spool.send_to is needed for ssl, ssl_ca, ssl_cert, ssl_key and password (they configure sending)",
  ]);
  assert.deepEqual(parseSpoolSection("yes", ctx).problems.map((p) => p.key), ["spool"]);
});

Deno.test("parseBytes", () => {
  const table: [unknown, number | null][] = [
    [1024, 1024],
    ["1024", 1024],
    ["64KB", 65536],
    ["1.5 MB", 1572864],
    ["2GiB", 2 * 1024 ** 3],
    ["100mb", 100 * 1024 ** 2],
    ["5 apples", null],
    [-1, null],
    [1.5, null],
    [true, null],
  ];
  for (const [v, want] of table) {
    const r = parseBytes(v, 0, 2 ** 44);
    assert.deepEqual(r.ok ? r.value : null, want, String(v));
  }
});
