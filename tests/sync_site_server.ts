/**
 * A site's Tentacle server in its own process with the dmonitor extensions turned off, so it
 * answers exactly as Pandora's reference server does (LS + MV, no safe move), which no
 * `tentacle-server` flag offers: `deno run -A tests/sync_site_server.ts DIR HOST PORT tls|plain`.
 * @module
 */
import { startTentacleServer } from "../lib/tentacle/mod.ts";
import { createLogger } from "../lib/log/mod.ts";

if (import.meta.main) {
  const [directory, host, port, mode] = Deno.args;
  const tls = new URL("../testdata/tls/", import.meta.url).pathname;
  await startTentacleServer({
    directory: directory!,
    addresses: [host!],
    port: Number(port),
    insecure: true,
    overwrite: true,
    extensions: false,
    filters: ".*\\.conf:conf;.*\\.md5:md5",
    tls: mode === "tls"
      ? { certFile: tls + "e2e.crt", keyFile: tls + "e2e.key", caFile: tls + "ca.crt" }
      : undefined,
    logger: createLogger({ min: "error" }),
  });
  console.log("ready");
}
