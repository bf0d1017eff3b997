/**
 * What a default `dmonitor run` has loaded once it runs (issue 14, memory): no Node compatibility
 * module it does not need. tests/module_graph_test.ts checks the static graph; this asks the
 * running node itself, through the V8 inspector, for every script it compiled (lazy imports
 * included), after its first check and the memory release that follows start-up. The tree is
 * the bench's kind (bench/memory_tree.ts): SQLite store, TCP checks, no TLS, PostgreSQL or email;
 * the node runs with the release V8 flags (packaging/v8-flags.txt: with --expose-gc the full GC
 * needs no node:v8 or node:vm). Started as root from source, it drops to its service user as it
 * would.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { giveToServerUser } from "../lib/privilege/testing.ts";
import { NodeProcess, ROOT, writeTree } from "./util.ts";

const A = "127.0.192.1";
const SERVICE = "127.0.192.2";
const INSPECT = "127.0.192.3";

function freePort(hostname: string): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Every script URL V8 has compiled in the process behind `inspector` (host:port). */
async function compiledScripts(inspector: string): Promise<string[]> {
  const list = await (await fetch(`http://${inspector}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => (ws.onopen = resolve, ws.onerror = reject));
  const urls: string[] = [];
  try {
    // V8 reports every script already compiled before it answers Debugger.enable.
    await new Promise<void>((resolve) => {
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.method === "Debugger.scriptParsed") urls.push(m.params.url);
        else if (m.id === 1) resolve();
      };
      ws.send(JSON.stringify({ id: 1, method: "Debugger.enable" }));
    });
  } finally {
    ws.close();
  }
  return urls;
}

Deno.test("a default dmonitor run loads no node:fs, node:crypto, node:tls, node:net, node:http or mailer", async () => {
  using service = Deno.listen({ hostname: SERVICE, port: 0 });
  (async () => {
    for await (const c of service) c.close();
  })().catch(() => {});
  const state = await Deno.makeTempDir({ prefix: "dmonitor-modules-state-" });
  await giveToServerUser(state);
  const tree = await writeTree({
    "dmonitor.yaml": `listen: ${A}:${freePort(A)}\nstate_dir: ${state}\ninterval: 1s\n` +
      "timeout: 900ms\n",
    [`hosts.d/${SERVICE}/tcp`]: `port: ${(service.addr as Deno.NetAddr).port}\n`,
  });
  await giveToServerUser(tree);
  const inspector = `${INSPECT}:${freePort(INSPECT)}`;
  const release = (await Deno.readTextFile(join(ROOT, "packaging/v8-flags.txt"))).split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#")).join(",");
  try {
    await using node = new NodeProcess(["--config", tree], {}, {
      denoFlags: [`--inspect=${inspector}`, `--v8-flags=${release}`],
    });
    await node.waitFor(/node started/);
    await node.waitFor(/test=tcp status=OK/);
    await node.waitFor(/memory returned after start/);
    const urls = await compiledScripts(inspector);
    assert.ok(urls.some((u) => u.endsWith("/lib/node/daemon.ts")), urls.join("\n"));
    assert.ok(urls.includes("node:sqlite"), urls.filter((u) => u.startsWith("node:")).join(" "));
    // Started as root from source, the node still loads the YAML library (CommonJS, with Deno's
    // CommonJS loader: node:module) before the drop, for a reload that may need it
    // (lib/cli/preload.ts); a compiled binary loads it only for a file that needs it.
    const unwanted = urls.filter((u) =>
      /^node:(fs|crypto|tls|net|http|https|dns|stream|zlib|v8|vm)(\/|$)/.test(u) ||
      /\/(nodemailer|pg)\/[^/]+\//.test(u)
    );
    assert.deepEqual(unwanted, []);
  } finally {
    await Deno.remove(tree, { recursive: true });
    await Deno.remove(state, { recursive: true });
  }
});
