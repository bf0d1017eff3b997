import assert from "node:assert/strict";
import { parsePeerSettings } from "./settings.ts";

const cfg = (peer: unknown): [unknown, string] => [peer, "/etc/dmonitor"];

Deno.test("peer: section: TLS paths resolve against the tree; halves and unknown keys are errors", () => {
  assert.deepEqual(parsePeerSettings(...cfg(undefined)), {
    settings: { tls: null, caFile: null },
    problems: [],
  });
  const ok = parsePeerSettings(
    ...cfg({ tls_cert: "tls/node.pem", tls_key: "/k.pem", ca: "tls/ca.pem" }),
  );
  assert.deepEqual(ok.settings, {
    tls: { certFile: "/etc/dmonitor/tls/node.pem", keyFile: "/k.pem" },
    caFile: "/etc/dmonitor/tls/ca.pem",
  });
  const bad = parsePeerSettings(...cfg({ tls_cert: "a.pem", colour: "red" }));
  assert.deepEqual(bad.problems.map((p) => `${p.key}: ${p.message}`).sort(), [
    "peer.colour: is not a known setting (known: tls_cert, tls_key, ca)",
    "peer.tls_key: is required with the other (both or neither)",
  ]);
  assert.equal(
    parsePeerSettings(...cfg("yes")).problems[0]!.message,
    "must be a mapping with tls_cert, tls_key and ca",
  );
});
