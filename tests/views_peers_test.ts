/**
 * /metrics of a real two-node cluster plus one absent peer: peer round-trip times have samples
 * once the heartbeat ran, failed contacts count up as a counter, every check has its incident
 * phase as a gauge, and promtool accepts it all.
 */
import assert from "node:assert/strict";
import { consensusKit } from "./consensus_util.ts";
import { until } from "./util.ts";
import { run } from "./ops_util.ts";

const kit = consensusKit("127.0.172");

const sample = (text: string, re: RegExp) => {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
};

Deno.test("cluster metrics: peer rtt filled in, peer errors counted, per-check phase, promtool-clean", async () => {
  const all = [0, 1].map((i) => `${kit.addr(i)}:${kit.PORT} n${i + 1}`).join("\n") +
    `\n${kit.ABSENT}:${kit.PORT} n9\n`;
  await using t = await kit.tcpCluster(2, { nodesTxt: () => all });
  const url = `http://${kit.addr(0)}:${kit.PORT}/metrics`;
  const peer = `${kit.addr(1)}:${kit.PORT}`;
  const absent = `${kit.ABSENT}:${kit.PORT}`;
  let text = "";
  await until("a peer rtt sample and two failed contacts with the absent peer", async () => {
    text = await (await fetch(url)).text();
    const errors = sample(
      text,
      new RegExp(
        `^dmonitor_peer_errors_total\\{peer="${absent.replaceAll(".", "\\.")}"\\} (\\d+)$`,
        "m",
      ),
    );
    return text.includes(`dmonitor_peer_rtt_seconds{peer="${peer}"}`) && (errors ?? 0) >= 2;
  }, { nodes: t.c.nodes, ms: 60_000 });
  const rtt = sample(
    text,
    new RegExp(
      `^dmonitor_peer_rtt_seconds\\{peer="${peer.replaceAll(".", "\\.")}"\\} ([\\d.e-]+)$`,
      "m",
    ),
  );
  assert.ok(rtt !== null && rtt > 0 && rtt < 5, `rtt ${rtt}`);
  assert.match(
    text,
    new RegExp(`^dmonitor_peer_up\\{peer="${absent.replaceAll(".", "\\.")}"\\} 0$`, "m"),
  );
  assert.match(text, /^# TYPE dmonitor_peer_errors_total counter$/m);
  assert.match(text, /^# TYPE dmonitor_check_phase gauge$/m);
  assert.match(
    text,
    new RegExp(
      `^dmonitor_check_phase\\{host="${
        kit.SVC.replaceAll(".", "\\.")
      }",test="tcp",phase="ok"\\} 1$`,
      "m",
    ),
  );
  assert.match(
    text,
    new RegExp(
      `^dmonitor_check_phase\\{host="${
        kit.SVC.replaceAll(".", "\\.")
      }",test="tcp",phase="down"\\} 0$`,
      "m",
    ),
  );
  // The JSON view says the same.
  const v = await (await fetch(`http://${kit.addr(0)}:${kit.PORT}/v1/status`)).json() as {
    peers: { address: string; rttMs: number | null; errors: number; reachable: boolean | null }[];
  };
  const p = v.peers.find((x) => x.address === peer)!;
  assert.ok(p.rttMs !== null && p.rttMs > 0, JSON.stringify(v.peers));
  assert.ok(v.peers.find((x) => x.address === absent)!.errors >= 2, JSON.stringify(v.peers));
  // A counter never goes down: a later scrape has at least as many errors.
  const again = await (await fetch(url)).text();
  const re = new RegExp(
    `^dmonitor_peer_errors_total\\{peer="${absent.replaceAll(".", "\\.")}"\\} (\\d+)$`,
    "m",
  );
  assert.ok(sample(again, re)! >= sample(text, re)!);
  const r = await run("promtool", ["check", "metrics"], { stdin: again });
  assert.equal(r.code, 0, `promtool:\n${r.stdout}${r.stderr}\n--- metrics ---\n${again}`);
  assert.equal(r.stdout + r.stderr, "", "no lint findings");
});
