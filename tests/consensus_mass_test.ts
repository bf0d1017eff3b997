/**
 * A mass failure on a real 3-node cluster: real `dmonitor run` processes on 127.0.90.1-3, each
 * with 300 built-in checks (tcp, http, smtp, ssh, tls against a closed port on 60 loopback
 * addresses) that all fail at once, and a real webhook receiver. Exactly one down notice per
 * outage and recipient, with the peer traffic batched. (The simulation covers thousands.)
 */
import assert from "node:assert/strict";
import { NodeProcess, writeTree } from "./util.ts";

const KEY = "consensus-mass-key-0123456789abcdef0123";
const node = (i: number) => `127.0.90.${i + 1}`;
const CHECKS = ["tcp", "http", "smtp", "ssh", "tls"];
/** Nothing listens on the discard port of these addresses. */
const CLOSED = 9;

function receiver() {
  const got: { kind: string; id: string; host: string; test: string; notifier: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.90.10", port: 0, onListen: () => {} },
    async (req) => {
      got.push(await req.json());
      return new Response("ok");
    },
  );
  return {
    got,
    url: `http://127.0.90.10:${server.addr.port}/hook`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("3 real nodes, 300 checks failing at once: exactly one down notice per outage, batched peer traffic", async () => {
  await using hook = receiver();
  const files: Record<string, string> = {};
  for (let h = 1; h <= 60; h++) {
    for (const c of CHECKS) files[`hosts.d/127.0.90.${h}/${c}`] = `port: ${CLOSED}\n`;
  }
  const nodes: NodeProcess[] = [];
  await using _stop = {
    async [Symbol.asyncDispose]() {
      await Promise.all(nodes.map((n) => n[Symbol.asyncDispose]()));
    },
  };
  const all = [0, 1, 2].map((i) => `${node(i)}:2929 n${i + 1}`).join("\n") + "\n";
  for (let i = 0; i < 3; i++) {
    const state = await Deno.makeTempDir({ prefix: "dmonitor-mass-" });
    const tree = await writeTree({
      "dmonitor.yaml": `node: n${i + 1}\nlisten: ${node(i)}:2929\nstate_dir: ${state}\n` +
        "interval: 2s\ntimeout: 1s\nquorum: 2\n",
      "nodes.txt": all,
      "peer.key": KEY,
      "alert.d/cluster.webhook": hook.url + "\n",
      ...files,
    });
    nodes.push(new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" }));
  }
  await Promise.all(nodes.map((p) => p.waitFor(/node started/, 30_000)));

  const pairs = 60 * CHECKS.length;
  const downs = () => hook.got.filter((n) => n.kind === "down");
  const end = Date.now() + 60_000;
  while (downs().length < pairs && Date.now() < end) await new Promise((r) => setTimeout(r, 250));
  // Long enough for any duplicate to show: more than a hand-over delay.
  await new Promise((r) => setTimeout(r, 5000));

  const seen = new Map<string, number>();
  for (const n of downs()) {
    seen.set(`${n.host}/${n.test}`, (seen.get(`${n.host}/${n.test}`) ?? 0) + 1);
  }
  const twice = [...seen].filter(([, k]) => k > 1);
  assert.deepEqual(twice, [], "no outage notified twice");
  assert.equal(seen.size, pairs, "every outage notified");
  assert.equal(new Set(downs().map((n) => n.id)).size, pairs);
  for (const p of nodes) {
    assert.ok(!p.lines.some((l) => /too many peer requests/.test(l)), "no peer refused for load");
  }
});
