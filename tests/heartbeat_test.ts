/**
 * Heartbeat tests (issue 17) on three real nodes, quorum 2: a job pushes to n2 only; every node
 * shows the test up (n2 shares each push); bad pushes get clear errors and the node keeps going;
 * when the pushes stop the cluster sends exactly one DOWN, and when they resume exactly one
 * RECOVERED, to a real webhook receiver.
 */
import assert from "node:assert/strict";
import { consensusKit } from "./consensus_util.ts";
import { until } from "./util.ts";

const kit = consensusKit("127.0.161");
const { SVC, addr, PORT } = kit;
const TOKEN = "heartbeat-e2e-token-0123456789";
const N2 = `http://${addr(1)}:${PORT}`;

/** Pushes to n2 every 300 ms while `on`. */
class Pusher {
  on = true;
  ok = 0;
  readonly #loop: Promise<void>;
  #stop = false;
  constructor(url: string) {
    this.#loop = (async () => {
      while (!this.#stop) {
        if (this.on) {
          const r = await fetch(url, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}` },
            body: `run ${this.ok + 1} ok\n`,
          }).catch(() => null);
          await r?.body?.cancel();
          if (r?.status === 200) this.ok++;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
  }
  async [Symbol.asyncDispose]() {
    this.#stop = true;
    await this.#loop;
  }
}

interface Check {
  test: string;
  status: string;
  output: string;
  lastRun: number | null;
}
const beatOf = async (i: number) =>
  ((await kit.statusOf(i)).checks as unknown as Check[]).find((x) => x.test === "beat")!;

Deno.test("a heartbeat pushed to n2 keeps the test up on all nodes; missing pushes give one DOWN and one RECOVERED", async () => {
  await using stack = new AsyncDisposableStack();
  const hook = stack.use(kit.receiver());
  const c = stack.use(
    await kit.cluster(3, hook.url, () => ({
      [`hosts.d/${SVC}/beat`]: `kind: heartbeat\ntoken: ${TOKEN}\ngrace: 5s\n`,
    })),
  );
  const pusher = stack.use(new Pusher(`${N2}/v1/push/${SVC}/beat`));

  // Every node sees the push n2 received (its output names n2), after runs that started later.
  const start = Date.now();
  await until("every node to show beat up from n2's pushes", async () => {
    const all = await Promise.all([0, 1, 2].map(beatOf));
    return all.every((b) =>
      b.status === "OK" && (b.lastRun ?? 0) > start && / via n2: run \d+ ok$/.test(b.output)
    );
  }, { nodes: c.nodes });

  // It stays up: three more runs on every node, each node still OK and no incident anywhere.
  await Promise.all([0, 1, 2].map((i) => kit.runsMore(i, "beat", 3, c)));
  for (let i = 0; i < 3; i++) {
    const s = await kit.statusOf(i);
    assert.equal(s.checks.find((x) => x.test === "beat")!.status, "OK", `n${i + 1}`);
    assert.deepEqual(s.incidents, [], `n${i + 1}`);
  }

  // Bad pushes: clear errors, nothing recorded, the node goes on.
  const bad = async (path: string, init: RequestInit, status: number, re: RegExp) => {
    const r = await fetch(`${N2}${path}`, init);
    const body = await r.json();
    assert.equal(r.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.match(body.error, re);
  };
  const auth = { authorization: `Bearer ${TOKEN}` };
  await bad(
    `/v1/push/${SVC}/beat`,
    { method: "POST", headers: { authorization: "Bearer nope" } },
    403,
    /no heartbeat test .* with this token/,
  );
  await bad(`/v1/push/${SVC}/beat`, { method: "POST" }, 401, /missing token/);
  await bad(`/v1/push/${SVC}/other`, { method: "POST", headers: auth }, 403, /no heartbeat test/);
  await bad(
    `/v1/push/${SVC}/beat`,
    { method: "POST", headers: auth, body: "x".repeat(100_000) },
    413,
    /larger than 4096/,
  );
  await bad(`/v1/push/${SVC}/beat`, { headers: auth }, 405, /POST, not GET/);
  await bad(
    `/v1/push/${SVC}`,
    { method: "POST", headers: auth },
    404,
    /\/v1\/push\/<host>\/<test>/,
  );
  assert.equal(await (await fetch(`${N2}/healthz`)).text(), "ok");
  assert.ok(c.nodes[1]!.lines.some((l) => /heartbeat push refused.*status=403/.test(l)));
  assert.deepEqual(hook.got, [], "no notice while the job pushes");

  // The job stops: one DOWN, sent by one node.
  pusher.on = false;
  await kit.allKnowNotified(c, [0, 1, 2], "beat");
  kit.exactlyOne(hook, c, "down");
  const down = hook.kinds("down")[0]!;
  assert.equal(down.test, "beat");
  const id = down.incident_id;
  const failing = await beatOf(0);
  assert.equal(failing.status, "FAIL");
  assert.match(
    failing.output,
    /^no push for \d+s \(expected every 1s \+ 5s grace\); last push .* via n2/,
  );

  // It pushes again: one RECOVERED.
  pusher.on = true;
  // The incident closes before its notice is delivered: wait for the notice itself.
  await until("the recovery notification", () => hook.kinds("recovered").length >= 1, {
    nodes: c.nodes,
  });
  await kit.allClosed(c, [0, 1, 2], id, "beat");
  kit.exactlyOne(hook, c, "recovered");
  assert.equal(hook.kinds("down").length, 1);
  assert.equal(hook.kinds("recovered")[0]!.incident_id, id);
});
