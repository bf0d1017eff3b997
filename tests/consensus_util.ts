/**
 * The consensus end-to-end fixture: real `dmonitor run` processes on `${net}.2`, `${net}.3`, ...
 * all on port 2929, a real TCP service and a real webhook receiver on `${net}.1` that counts the
 * notifications the whole cluster sends. Each test file passes its own block (tests/util.ts).
 *
 * "Exactly one notification" under every interleaving is proved by the deterministic tests
 * (lib/quorum/sim_test.ts, lib/peers/cluster_test.ts); the e2e tests wait for a positive event
 * after which no node may notify again (every node shows the notice as delivered, or has closed
 * the incident), then check once that one notification was sent and that only one node logged
 * sending it.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { NodeProcess, ROOT, tail, until, writeTree } from "./util.ts";

export interface Notified {
  kind: string;
  id: string;
  incident_id: string;
  host: string;
  test: string;
  notifier: string;
  confirmed_by: number;
}

export interface Hook extends AsyncDisposable {
  got: Notified[];
  url: string;
  kinds(k: string): Notified[];
}

export interface Cluster {
  nodes: NodeProcess[];
  trees: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Status {
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

/** The helpers for one test file's loopback block `net` (e.g. "127.0.103"). */
export function consensusKit(net: string) {
  const KEY = "consensus-test-key-0123456789abcdef0123";
  const PORT = 2929;
  /** The webhook receiver and the monitored service. */
  const SVC = `${net}.1`;
  const addr = (i: number) => `${net}.${i + 2}`;
  /** Peers that hang, answer garbage, or are not there. */
  const HANG = `${net}.20`, GARBAGE = `${net}.21`, ABSENT = `${net}.22`;
  /** The e2e server certificate covers the blocks of tests/util.ts (server.crt only 127.0.0.x). */
  const TLS = join(ROOT, "testdata/tls");

  /** A webhook receiver on SVC recording every notification body. */
  function receiver(): Hook {
    const got: Notified[] = [];
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
    // Each line names its node, so a signed request is accepted only from a listed sender.
    const all = Array.from({ length: n }, (_, i) => `${addr(i)}:${PORT} n${i + 1}`).join("\n") +
      "\n";
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
      // Every node names the same notifier; only the notifier's own outbox can say "delivered".
      const seen = await Promise.all(live.map(async (i) => {
        const s = await statusOf(i) as unknown as {
          node: string;
          incidents: { test: string; notifier: string | null; notified: boolean }[];
        };
        const inc = s.incidents.find((x) => x.test === test);
        return { node: s.node, notifier: inc?.notifier ?? null, notified: inc?.notified ?? false };
      }));
      by = seen[0]?.notifier ?? null;
      return by !== null && seen.every((x) => x.notifier === by) &&
        seen.every((x) => x.node !== by || x.notified);
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

  /** Makes statusOf use https with `client` (for a TLS cluster), or http again with null. */
  const useTls = (client: Deno.HttpClient | null) => {
    tlsClient = client;
  };
  return {
    KEY,
    PORT,
    SVC,
    addr,
    HANG,
    GARBAGE,
    ABSENT,
    TLS,
    receiver,
    Service,
    cluster,
    tcpCluster,
    statusOf,
    logged,
    allKnowNotified,
    allClosed,
    exactlyOne,
    runsMore,
    useTls,
  };
}
