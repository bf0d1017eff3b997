import assert from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { memoryLogger } from "../log/mod.ts";
import { RecordingNotifier } from "../quorum/fixtures_testing.ts";
import type { CheckResult } from "../runner/result.ts";
import { StateStore } from "../store/mod.ts";
import type { ParamSpec } from "../checks/types.ts";
import type { TreeEntry } from "../config/tree.ts";
import { Consensus, IncidentStore } from "./consensus.ts";

const file = (path: string, content: string | null, mode = 0o644): TreeEntry => ({
  path,
  kind: content === null ? "dir" : "file",
  content,
  mode,
  uid: 0,
  size: content?.length ?? 0,
});

/** A node with two tests and one peer on a loopback port nothing listens on. */
function config(peers: string) {
  return parseConfig({
    root: "/etc/dmonitor",
    entries: [
      file("dmonitor.yaml", "node: alpha\ntimeout: 1s\ninterval: 2s\nquorum: 1\n"),
      file("nodes.txt", peers),
      file("peer.key", "k".repeat(40), 0o600),
      file("hosts.d", null),
      file("hosts.d/127.0.0.1", null),
      file("hosts.d/127.0.0.1/a", ""),
      file("hosts.d/127.0.0.1/b", ""),
    ],
  }, {
    builtins: new Map<string, { params: Record<string, ParamSpec> }>([["a", { params: {} }], ["b", {
      params: {},
    }]]),
    hostname: "h",
  });
}

const fail = (test: string, at: number): CheckResult => ({
  host: "127.0.0.1",
  test,
  status: "FAIL",
  state: "FAIL",
  output: "down",
  perfdata: "",
  exitCode: null,
  startedAt: at,
  durationMs: 1,
});

Deno.test("IncidentStore keeps incident states across reopening", () => {
  using store = StateStore.open(":memory:");
  const incidents = new IncidentStore(store.db);
  const s = { host: "h", test: "t", phase: "down", since: 5 } as unknown as Parameters<
    IncidentStore["save"]
  >[0];
  incidents.save(s);
  incidents.save({ ...s, since: 6 });
  assert.deepEqual(new IncidentStore(store.db).all(), [{ ...s, since: 6 }]);
});

Deno.test("degraded: only after every peer was contacted and failed; a probe round still asks them", async () => {
  using store = StateStore.open(":memory:");
  const cfg = config("127.0.0.1:1\n");
  let runs = 0;
  const log = memoryLogger("debug");
  const consensus = new Consensus({
    config: () => cfg,
    store,
    execute: () => (runs++, Promise.resolve(fail("a", Date.now()))),
    notifier: new RecordingNotifier(),
    logger: log,
  });
  try {
    store.record(fail("a", Date.now()));
    store.record(fail("b", Date.now()));
    assert.equal(consensus.degraded(), false, "the peer was never contacted: not degraded");
    await consensus.onResult(fail("a", Date.now()));
    assert.equal(
      consensus.engine.peerHealth()[0]?.unreachableSince !== null,
      true,
      "the round asked the peer",
    );
    assert.equal(consensus.degraded(), true, "peer unreachable and most checks failing");
    // Degraded, it answers peers UNKNOWN for a failure rather than FAIL.
    assert.equal(
      consensus.engine.answer("127.0.0.1", "a", fail("a", Date.now())).status,
      "UNKNOWN",
    );
    assert.equal(runs, 0, "the executor is only for confirm requests");
  } finally {
    consensus.close();
    await consensus.engine.idle();
  }
});
