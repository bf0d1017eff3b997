/**
 * Consensus end to end: several real `dmonitor run` processes on 127.0.103.2, 127.0.103.3, ... all
 * on port 2929, a real TCP service that is stopped and started, and a real webhook receiver that
 * counts the notifications the whole cluster sends. This file owns 127.0.103.0/24 (tests/util.ts).
 *
 * "Exactly one notification" under every interleaving is proved by the deterministic tests
 * (lib/quorum/sim_test.ts, lib/peers/cluster_test.ts); here each outage waits for a positive event
 * after which no node may notify again (every node shows the notice as delivered, or has closed
 * the incident), then checks once that one notification was sent and that only one node logged
 * sending it.
 */
import assert from "node:assert/strict";
import { importPeerKey, signRequest } from "../lib/peers/mod.ts";
import { join } from "node:path";
import { dmonitor, NodeProcess, ROOT, tail, until, writeTree } from "./util.ts";

const KEY = "consensus-test-key-0123456789abcdef0123";
const PORT = 2929;
const NET = "127.0.103";
/** The webhook receiver and the monitored service. */
const SVC = `${NET}.1`;
const addr = (i: number) => `${NET}.${i + 2}`;
/** Peers that hang, answer garbage, or are not there. */
const HANG = `${NET}.20`, GARBAGE = `${NET}.21`, ABSENT = `${NET}.22`;
/** The e2e server certificate covers the blocks of tests/util.ts (server.crt only 127.0.0.x). */
const TLS = join(ROOT, "testdata/tls");

/** A webhook receiver on SVC recording every notification body. */
function receiver() {
  const got: {
    kind: string;
    id: string;
    host: string;
    test: string;
    notifier: string;
    confirmed_by: number;
  }[] = [];
  const server = Deno.serve({ hostname: SVC, port: 0, onListen: () => {} }, async (req) => {
    got.push(await req.json());
    return new Response("ok");
  });
  return {
    got,
    url: `http://${SVC}:${server.addr.port}/hook`,
    kinds: (k: string) => got.filter((n) => n.kind === k),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A TCP service that can be stopped and started again on the same port. */
class Service {
  #listener: Deno.Listener | null = null;
  port = 0;
  start() {
    this.#listener = Deno.listen({ hostname: SVC, port: this.port });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    const l = this.#listener;
    (async () => {
      for await (const c of l) c.close();
    })().catch(() => {});
  }
  stop() {
    this.#listener?.close();
    this.#listener = null;
  }
  [Symbol.dispose]() {
    this.stop();
  }
}

interface Cluster {
  nodes: NodeProcess[];
  trees: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts n nodes named n1..nN; `tests(i)` gives node i's hosts.d and plugins files. Resolves once
 * every node logged "node started"; if one does not (or exits), all are killed before it throws.
 */
async function cluster(
  n: number,
  hookUrl: string,
  tests: (i: number) => Record<string, string>,
  extra: { quorum?: number; nodesTxt?: (i: number) => string; yaml?: string } = {},
): Promise<Cluster> {
  await using stack = new AsyncDisposableStack();
  const nodes: NodeProcess[] = [];
  const trees: string[] = [];
  const all = Array.from({ length: n }, (_, i) => `${addr(i)}:${PORT}`).join("\n") + "\n";
  for (let i = 0; i < n; i++) {
    const state = await Deno.makeTempDir({ prefix: "dmonitor-state-" });
    const tree = await writeTree({
      "dmonitor.yaml": `node: n${i + 1}\nlisten: ${addr(i)}:${PORT}\nstate_dir: ${state}\n` +
        `interval: 1s\ntimeout: 900ms\nquorum: ${extra.quorum ?? 2}\n${extra.yaml ?? ""}`,
      "nodes.txt": extra.nodesTxt?.(i) ?? all,
      "peer.key": KEY,
      "alert.d/cluster.webhook": hookUrl + "\n",
      ...tests(i),
    });
    trees.push(tree);
    nodes.push(stack.use(new NodeProcess(["--config", tree], { DMONITOR_LOG_LEVEL: "info" })));
  }
  await Promise.all(nodes.map((p) => p.waitFor(/node started/)));
  const owned = stack.move();
  return {
    nodes,
    trees,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/**
 * n nodes checking one real TCP service with the built-in tcp check, every node seeing it up; the
 * service, the webhook receiver and the nodes are torn down together, also when a wait fails.
 */
async function tcpCluster(n: number, extra: Parameters<typeof cluster>[3] = {}) {
  await using stack = new AsyncDisposableStack();
  const service = stack.use(new Service());
  service.start();
  const hook = stack.use(receiver());
  const c = stack.use(
    await cluster(
      n,
      hook.url,
      () => ({ [`hosts.d/${SVC}/tcp`]: `port: ${service.port}\n` }),
      extra,
    ),
  );
  await Promise.all(c.nodes.map((p) => p.waitFor(/test=tcp status=OK/)));
  const owned = stack.move();
  return { service, hook, c, [Symbol.asyncDispose]: () => owned.disposeAsync() };
}

interface Status {
  checks: { host: string; test: string; phase: string; status: string; lastRun: number | null }[];
  incidents: {
    id: string;
    test: string;
    state: string;
    notifier: string | null;
    notified: boolean;
  }[];
  history: { id: string; test: string; endedAt: number | null }[];
  degraded: boolean;
}

/** Set while a TLS cluster runs: its nodes answer https only. */
let tlsClient: Deno.HttpClient | null = null;

async function statusOf(i: number): Promise<Status> {
  const r = tlsClient
    ? await fetch(`https://${addr(i)}:${PORT}/v1/status`, { client: tlsClient })
    : await fetch(`http://${addr(i)}:${PORT}/v1/status`);
  return await r.json() as Status;
}

/** Lines matching `re` summed over the nodes' logs. */
const logged = (nodes: NodeProcess[], re: RegExp) =>
  nodes.reduce((n, p) => n + p.lines.filter((l) => re.test(l)).length, 0);

/**
 * The positive event after a down notification: every node in `live` shows the incident as
 * notified by one and the same node, so none of them can claim the notice any more.
 */
async function allKnowNotified(c: Cluster, live: number[], test = "tcp"): Promise<string> {
  let by: string | null = null;
  await until("every node to show the incident as notified", async () => {
    const seen = await Promise.all(live.map(async (i) => {
      const inc = (await statusOf(i)).incidents.find((x) => x.test === test);
      return inc?.notified ? inc.notifier : null;
    }));
    by = seen[0] ?? null;
    return by !== null && seen.every((x) => x === by);
  }, { nodes: live.map((i) => c.nodes[i]!) });
  return by!;
}

/** The positive event after a recovery: every node in `live` closed the incident `id`. */
async function allClosed(c: Cluster, live: number[], id: string, test = "tcp"): Promise<void> {
  await until("every node to close the incident", async () => {
    const all = await Promise.all(live.map((i) => statusOf(i)));
    return all.every((s) =>
      !s.incidents.some((x) => x.test === test) && s.history.some((h) => h.id === id)
    );
  }, { nodes: live.map((i) => c.nodes[i]!) });
}

type Hook = ReturnType<typeof receiver>;

/** Checks, once, that exactly one `kind` notification was sent and only one node logged sending it. */
function exactlyOne(
  hook: Hook,
  c: Cluster,
  kind: "down" | "recovered",
  nodes: NodeProcess[] = c.nodes,
) {
  assert.equal(hook.kinds(kind).length, 1, JSON.stringify(hook.got));
  const sent = new RegExp(`dmonitor\\.quorum sending ${kind} notice`);
  assert.equal(
    logged(nodes, sent),
    1,
    `one node sends the ${kind} notice:\n` + nodes.map((p) => tail(p.lines, 15)).join("\n--\n"),
  );
}

for (const n of [3, 5]) {
  Deno.test(`${n} nodes: a real outage gives exactly one down and one recovery notification`, async () => {
    await using t = await tcpCluster(n);
    const { service, hook, c } = t;
    const every = c.nodes.map((_, i) => i);

    service.stop();
    await until("the down notification", () => hook.kinds("down").length >= 1, { nodes: c.nodes });
    const notifier = await allKnowNotified(c, every);
    exactlyOne(hook, c, "down");
    const down = hook.kinds("down")[0]!;
    assert.equal(down.host, SVC);
    assert.equal(down.test, "tcp");
    assert.equal(down.notifier, notifier);
    assert.ok(down.confirmed_by >= 2, `confirmed by ${down.confirmed_by}`);

    service.start();
    await until("the recovery notification", () => hook.kinds("recovered").length >= 1, {
      nodes: c.nodes,
    });
    await allClosed(c, every, (down as unknown as { incident_id: string }).incident_id);
    exactlyOne(hook, c, "recovered");
    assert.equal(hook.kinds("down").length, 1);
    assert.equal(hook.got.length, 2, "nothing else was sent");
  });
}

/** Resolves once node i's check `test` has run `runs` more times (distinct lastRun values). */
async function runsMore(i: number, test: string, runs: number, c: Cluster): Promise<number[]> {
  const seen: number[] = [];
  const first = (await statusOf(i)).checks.find((x) => x.test === test)?.lastRun ?? null;
  await until(`${runs} more runs of ${test} on n${i + 1}`, async () => {
    const last = (await statusOf(i)).checks.find((x) => x.test === test)?.lastRun ?? null;
    if (last !== null && last !== first && last !== seen.at(-1)) seen.push(last);
    return seen.length >= runs;
  }, { nodes: c.nodes });
  return seen;
}

Deno.test("one node's broken view: no notification over many cycles, and it shows its view differs", async () => {
  await using hook = receiver();
  await using c = await cluster(3, hook.url, (i) => ({
    [`hosts.d/${SVC}/svc`]: "",
    // The plugin fails only on n2.
    "plugins/check_svc": i === 1
      ? "#!/bin/sh\necho FAIL broken only here\n"
      : "#!/bin/sh\necho OK fine\n",
  }));
  await until("n2 to see its view differs", async () => {
    const s = await statusOf(1);
    return s.checks.some((x) => x.test === "svc" && x.phase === "local-only");
  }, { nodes: c.nodes });
  // Many cycles: n2 runs its failing check (and asks its peers) three more times.
  await runsMore(1, "svc", 3, c);
  assert.equal(hook.got.length, 0, JSON.stringify(hook.got));
  const s = await statusOf(1);
  assert.equal(s.checks.find((x) => x.test === "svc")!.phase, "local-only");
  assert.equal((await statusOf(0)).checks.find((x) => x.test === "svc")!.status, "OK");
  assert.ok(c.nodes[1]!.lines.some((l) => /local-only|view differs/.test(l)), "logged on n2");
  assert.equal(logged(c.nodes, /dmonitor\.quorum sending down notice/), 0);
});

Deno.test("the chosen notifier killed with SIGKILL during an outage: still exactly one notification", async () => {
  await using t = await tcpCluster(3);
  const { service, hook, c } = t;
  const before = c.nodes[0]!.lines.length;
  service.stop();
  // n1 is first in name order, so it is the one to notify: kill it as soon as it sees the failure.
  await until(
    "n1 to see the failure",
    () => c.nodes[0]!.lines.slice(before).some((l) => /test=tcp status=(FAIL|TIMEOUT)/.test(l)),
    { nodes: c.nodes },
  );
  c.nodes[0]!.kill("SIGKILL");
  await c.nodes[0]!.status;
  const rest = [c.nodes[1]!, c.nodes[2]!];
  await until("a hand-over notification", () => hook.kinds("down").length >= 1, {
    ms: 40_000,
    nodes: rest,
  });
  await allKnowNotified(c, [1, 2]);
  exactlyOne(hook, c, "down", rest);
  assert.notEqual(hook.kinds("down")[0]!.notifier, "n1");
  service.start();
  await until("the recovery notification", () => hook.kinds("recovered").length >= 1, {
    ms: 40_000,
    nodes: rest,
  });
  const id = (hook.kinds("down")[0] as unknown as { incident_id: string }).incident_id;
  await allClosed(c, [1, 2], id);
  exactlyOne(hook, c, "recovered", rest);
});

Deno.test("peers that hang, answer garbage or are down: checks and verdicts still happen on time", async () => {
  // HANG accepts and never answers; GARBAGE answers garbage; ABSENT is not there.
  const hang = Deno.listen({ hostname: HANG, port: PORT });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of hang) held.push(conn);
  })().catch(() => {});
  const garbage = Deno.serve(
    { hostname: GARBAGE, port: PORT, onListen: () => {} },
    () => new Response("\x00\xffnot json"),
  );
  await using hook = receiver();
  try {
    await using c = await cluster(1, hook.url, () => ({
      [`hosts.d/${SVC}/svc`]: "",
      "plugins/check_svc": "#!/bin/sh\necho FAIL always\n",
    }), { nodesTxt: () => `${HANG}:${PORT}\n${GARBAGE}:${PORT}\n${ABSENT}:${PORT}\n` });
    await until(
      "a verdict",
      async () => (await statusOf(0)).checks.some((x) => x.phase === "unconfirmed"),
      { ms: 10_000, nodes: c.nodes },
    );
    // The check keeps its 1 s interval although every peer hangs or fails (a confirm round's
    // deadline is 2.9 s): four more runs, at most 2.5 s apart on average.
    const runs = await runsMore(0, "svc", 4, c);
    const spacing = (runs.at(-1)! - runs[0]!) / (runs.length - 1);
    assert.ok(spacing < 2500, `runs ${spacing} ms apart: ${runs.join(", ")}`);
    assert.equal(hook.got.length, 0, "unreachable peers never count as failures");
  } finally {
    hang.close();
    for (const h of held) h.close();
    await garbage.shutdown();
  }
});

Deno.test("forged, unsigned, replayed and stale requests to a running node are rejected", async () => {
  await using hook = receiver();
  await using c = await cluster(2, hook.url, () => ({ [`hosts.d/${SVC}/ping`]: "" }));
  const url = `http://${addr(0)}:${PORT}/v1/confirm`;
  const body = new TextEncoder().encode(JSON.stringify({ host: SVC, test: "ping" }));
  const key = await importPeerKey(KEY);
  const send = (headers: Record<string, string>) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
    });
  const signed = (now: number, nonce: string, k = key) =>
    signRequest(k, { method: "POST", path: "/v1/confirm", node: "tester", body, now, nonce });

  const unsigned = await send({});
  assert.equal(unsigned.status, 401);
  assert.equal(await unsigned.text(), await (await send({})).text(), "learns nothing");

  const forged = await send(
    await signed(
      Date.now(),
      "nonce-forged-0000001",
      await importPeerKey("not-the-key-0123456789abcdef0123456"),
    ),
  );
  assert.equal(forged.status, 401);
  await forged.body?.cancel();

  const good = await signed(Date.now(), "nonce-replay-0000001");
  const first = await send(good);
  assert.equal(first.status, 200, await first.text());
  const replay = await send(good);
  assert.equal(replay.status, 401);
  await replay.body?.cancel();

  const stale = await send(await signed(Date.now() - 10 * 60_000, "nonce-stale-00000001"));
  assert.equal(stale.status, 401);
  await stale.body?.cancel();
  assert.ok(c.nodes[0]!.lines.some((l) => /401|rejected|refus/i.test(l)), "rejections are logged");
});

Deno.test("peers over TLS (testdata CA): the outage is confirmed and notified once; plain http is refused", async () => {
  const yaml =
    `peer:\n  tls_cert: ${TLS}/e2e.crt\n  tls_key: ${TLS}/e2e.key\n  ca: ${TLS}/ca.crt\n`;
  await using t = await tcpCluster(2, { yaml });
  const { service, hook, c } = t;
  assert.ok(c.nodes[0]!.lines.some((l) => /node started .*tls=true/.test(l)));
  await assert.rejects(fetch(`http://${addr(0)}:${PORT}/healthz`), "the endpoint speaks TLS only");
  using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${TLS}/ca.crt`)] });
  const health = await fetch(`https://${addr(0)}:${PORT}/healthz`, { client });
  assert.equal(await health.text(), "ok");
  const status = await dmonitor(["status", "--config", c.trees[0]!]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^dmonitor n1 /, "dmonitor status reaches a TLS node over https");
  service.stop();
  await until("the down notification", () => hook.kinds("down").length >= 1, { nodes: c.nodes });
  tlsClient = client;
  try {
    await allKnowNotified(c, [0, 1]);
  } finally {
    tlsClient = null;
  }
  exactlyOne(hook, c, "down");
  assert.equal(hook.kinds("down")[0]!.confirmed_by, 2, "both nodes' votes arrived over TLS");
});
