import assert from "node:assert/strict";
import { parseConfig } from "../config/mod.ts";
import { memoryLogger } from "../log/mod.ts";
import { RecordingNotifier } from "../quorum/fixtures_testing.ts";
import type { CheckResult } from "../runner/result.ts";
import { StateStore } from "../store/mod.ts";
import type { ParamSpec } from "../checks/types.ts";
import type { TreeEntry } from "../config/tree.ts";
import { FakeClock } from "../clock/mod.ts";
import {
  Consensus,
  DEGRADED_PROBE_MS,
  HEARTBEAT_MS,
  IncidentStore,
  RELEASE_AFTER_FORGETTING,
  releaseDue,
} from "./consensus.ts";
import { incidentOpen } from "./alerting.ts";
import type { IncidentState } from "../quorum/types.ts";

const file = (path: string, content: string | null, mode = 0o644): TreeEntry => ({
  path,
  kind: content === null ? "dir" : "file",
  content,
  mode,
  uid: 0,
  size: content?.length ?? 0,
});

/** A node with two tests and one peer on a loopback port nothing listens on. */
function config(peers: string, quorum = 1) {
  return parseConfig({
    root: "/etc/dmonitor",
    entries: [
      file("dmonitor.yaml", `node: alpha\ntimeout: 1s\ninterval: 2s\nquorum: ${quorum}\n`),
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

Deno.test("IncidentStore keeps incident states across reopening; saves of one moment share a commit", async () => {
  using store = StateStore.open(":memory:");
  const incidents = new IncidentStore(store.db);
  const s = { host: "h", test: "t", phase: "down", since: 5 } as unknown as Parameters<
    IncidentStore["save"]
  >[0];
  let commits = 0;
  const exec = store.db.exec.bind(store.db);
  store.db.exec = (sql: string) => {
    if (sql === "COMMIT") commits++;
    return exec(sql);
  };
  const saved = [incidents.save(s), incidents.save({ ...s, since: 6 })];
  for (let i = 0; i < 1200; i++) saved.push(incidents.save({ ...s, host: `h${i}` }));
  // Nothing is committed before the promises say so.
  assert.equal(new IncidentStore(store.db).all().length, 0);
  await Promise.all(saved);
  store.db.exec = exec;
  assert.equal(commits, 13, "1,201 states in chunks of 100");
  const all = new IncidentStore(store.db).all();
  assert.equal(all.length, 1201);
  assert.deepEqual(all.find((x) => x.host === "h"), { ...s, since: 6 });
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
    await consensus.idle();
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

Deno.test("confirm: answered from a result taken after the asker's failure, never an older one", async () => {
  using store = StateStore.open(":memory:");
  const clock = new FakeClock(1_000_000);
  const runs: number[] = [];
  const consensus = new Consensus({
    config: () => config(""),
    store,
    execute: () => {
      runs.push(clock.now());
      return Promise.resolve(fail("a", clock.now()));
    },
    notifier: new RecordingNotifier(),
    logger: memoryLogger(),
    clock,
  });
  try {
    const { confirm } = consensus.peerCallbacks();
    const signal = new AbortController().signal;
    // A local result 2 s old; the asker failed 1 s ago: the stored result is older, run now.
    store.record(fail("a", clock.now() - 2000));
    const fresh = await confirm("127.0.0.1", "a", signal, 1000);
    assert.deepEqual(runs, [1_000_000], "ran the check");
    assert.equal(fresh?.at, 1_000_000);
    // The asker failed 3 s ago: the result just taken is newer, so it answers without a run.
    clock.now = () => 1_000_500;
    const again = await confirm("127.0.0.1", "a", signal, 3000);
    assert.deepEqual(runs, [1_000_000], "no second run");
    assert.equal(again?.status, "FAIL");
    assert.equal(await confirm("127.0.0.1", "nope", signal, 3000), null, "not configured here");
  } finally {
    consensus.close();
  }
});

Deno.test("degraded: the probe round asks the peers at most once per probe period, on the injected clock", async () => {
  using store = StateStore.open(":memory:");
  const clock = new FakeClock(5_000_000);
  const cfg = config("127.0.0.1:1\n", 2);
  const dbg = memoryLogger("debug");
  const consensus = new Consensus({
    config: () => cfg,
    store,
    execute: () => Promise.resolve(fail("a", clock.now())),
    notifier: new RecordingNotifier(),
    logger: dbg,
    clock,
  });
  const contacts = () => consensus.rpc!.stats()["127.0.0.1:1"]!.confirm.requests;
  /** Feeds a result, moving the fake clock in small steps until its round is done. */
  const feed = async (test: string) => {
    await consensus.onResult(fail(test, clock.now()));
    let done = false;
    const p = consensus.idle().finally(() => (done = true));
    while (!done) await clock.advance(1);
    await p;
  };
  try {
    store.record(fail("a", clock.now()));
    store.record(fail("b", clock.now()));
    await feed("a");
    assert.equal(consensus.degraded(), true);
    assert.equal(contacts(), 1);
    // The first failure while degraded probes; then its failures vote UNKNOWN and ask nobody
    // until the probe period has passed.
    await feed("a");
    assert.equal(contacts(), 2, "first probe");
    for (let i = 0; i < 5; i++) {
      await clock.advance(5000);
      await feed("a");
    }
    assert.equal(contacts(), 2, "no probe within the period");
    await clock.advance(DEGRADED_PROBE_MS);
    await feed("b");
    assert.equal(contacts(), 3, "one probe round once the period passed");
    await feed("a");
    assert.equal(contacts(), 3);
    assert.ok(
      !dbg.lines.some((l) => l.includes("passes again")),
      "a degraded node's failing check is not reported as passing",
    );
    assert.ok(dbg.lines.some((l) => l.includes("degraded")));
  } finally {
    consensus.close();
    await consensus.engine.idle();
  }
});

Deno.test("onResult returns at once; while a round runs only the newest result waits for it", async () => {
  using store = StateStore.open(":memory:");
  const cfg = config("127.0.0.1:1\n", 2);
  const consensus = new Consensus({
    config: () => cfg,
    store,
    execute: () => Promise.resolve(fail("a", Date.now())),
    notifier: new RecordingNotifier(),
    logger: memoryLogger(),
  });
  const rounds: number[] = [];
  const real = consensus.engine.round.bind(consensus.engine);
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  consensus.engine.round = async (h, t, r) => {
    rounds.push(r.startedAt);
    await gate;
    return real(h, t, r);
  };
  try {
    // The first round hangs (a silent peer); five more results arrive meanwhile.
    for (let i = 1; i <= 6; i++) await consensus.onResult(fail("a", i));
    assert.deepEqual(rounds, [1], "the hook did not wait for the round");
    release();
    await consensus.idle();
    assert.deepEqual(rounds, [1, 6], "only the newest waiting result had a round");
  } finally {
    consensus.close();
    await consensus.engine.idle();
  }
});

Deno.test("heartbeat: within one beat a node knows which peers it reaches, and says so when one goes away", async () => {
  const { createPeerApp, startPeerServer } = await import("../peers/mod.ts");
  const app = createPeerApp({
    nodeName: "beta",
    key: "k".repeat(40),
    peers: () => ["alpha"],
    log: memoryLogger(),
    confirm: () => Promise.resolve(null),
    view: () => null,
    hear: () => Promise.resolve(false),
    state: () => ({}),
  });
  const server = startPeerServer({ hostname: "127.0.90.50", port: 0, app });
  using store = StateStore.open(":memory:");
  // Requests are signed with this clock: it must be near the server's real one.
  const clock = new FakeClock(Date.now());
  const cfg = config(`127.0.90.50:${server.addr.port} beta\n`, 2);
  const log = memoryLogger();
  const consensus = new Consensus({
    config: () => cfg,
    store,
    execute: () => Promise.resolve(fail("a", clock.now())),
    notifier: new RecordingNotifier(),
    logger: log,
    clock,
  });
  const beat = async (
    want: (h: { unreachableSince: number | null; node: string | null }) => boolean,
  ) => {
    for (let i = 0; i < 200; i++) {
      await clock.advance(i === 0 ? HEARTBEAT_MS : 0);
      const h = consensus.peerHealth()[0];
      if (h && want(h)) return h;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no such heartbeat: ${JSON.stringify(consensus.peerHealth())}`);
  };
  try {
    assert.deepEqual(consensus.peerHealth(), [], "nothing known before the first beat");
    const up = await beat((h) => h.unreachableSince === null && h.node !== null);
    assert.equal(up.node, "beta");
    await server.shutdown();
    const down = await beat((h) => h.unreachableSince !== null);
    assert.equal(down.node, "beta", "still named");
    assert.ok(log.lines.some((l) => l.includes("peer unreachable")));
  } finally {
    consensus.close();
    await server.shutdown();
  }
});

Deno.test("incidentOpen: answers from the one host+test row its id names", async () => {
  using store = StateStore.open(":memory:");
  const incidents = new IncidentStore(store.db);
  const st = (host: string, test: string, phase: string, incident: unknown, closed: unknown) =>
    ({ host, test, phase, since: 1, incident, closed }) as unknown as IncidentState;
  const saved = [
    incidents.save(st("db1", "tcp", "down", { id: "db1/tcp/100/n1", endedAt: null }, null)),
    incidents.save(st("db2", "tcp", "ok", null, { id: "db2/tcp/200/n2", endedAt: 300 })),
    incidents.save(
      st("db3", "tcp", "recovering", { id: "db3/tcp/400/n1", endedAt: null }, {
        id: "db3/tcp/10/n1",
        endedAt: 20,
      }),
    ),
  ];
  await Promise.all(saved);
  const isOpen = incidentOpen(store.db);
  assert.deepEqual(isOpen("db1/tcp/100/n1"), { open: true });
  assert.deepEqual(isOpen("db2/tcp/200/n2"), { open: false, endedAt: 300 });
  assert.deepEqual(isOpen("db3/tcp/400/n1"), { open: true });
  assert.deepEqual(isOpen("db3/tcp/10/n1"), { open: false, endedAt: 20 });
  // An older incident of a known check, an unknown check, a site incident: not known here.
  assert.equal(isOpen("db1/tcp/50/n1"), null);
  assert.equal(isOpen("db9/tcp/1/n1"), null);
  assert.equal(isOpen("site:p1:abc"), null);
  // Reading the rows of the others is not needed: every lookup is one statement.
  let statements = 0;
  const prepare = store.db.prepare.bind(store.db);
  store.db.prepare = (sql: string) => (statements++, prepare(sql));
  for (let i = 0; i < 100; i++) isOpen("db2/tcp/200/n2");
  assert.equal(statements, 0, "the lookup's statement is prepared once");
});

Deno.test("IncidentStore.delete: thousands of forgotten rows go a chunk per turn; a new save keeps its row", async () => {
  using store = StateStore.open(":memory:");
  const incidents = new IncidentStore(store.db);
  const st = (host: string) =>
    ({
      host,
      test: "tcp",
      phase: "ok",
      since: 1,
      incident: null,
      closed: null,
    }) as unknown as IncidentState;
  await Promise.all(Array.from({ length: 1000 }, (_, i) => incidents.save(st(`h${i}`))));
  const rows = () =>
    (store.db.prepare("SELECT count(*) AS n FROM incident_state").get() as { n: number }).n;
  let commits = 0;
  const exec = store.db.exec.bind(store.db);
  store.db.exec = (sql: string) => (sql === "COMMIT" && commits++, exec(sql));
  incidents.delete(Array.from({ length: 1000 }, (_, i) => ({ host: `h${i}`, test: "tcp" })));
  assert.equal(rows(), 1000, "nothing is deleted within the caller's turn");
  // h7 comes back before its deletion ran: its new state stays.
  await incidents.save(st("h7"));
  while (rows() > 1) await new Promise((r) => setTimeout(r, 0));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(rows(), 1);
  assert.deepEqual(incidents.all().map((s) => s.host), ["h7"]);
  assert.ok(commits >= 10, `${commits} commits: at most 100 rows each`);
});

Deno.test("releaseDue: once a big outage is mostly forgotten, not at every sweep of it", () => {
  // 10,000 states forgotten over six sweeps (the waves one node forgot in the bench at 10,000).
  const waves = [685, 630, 1353, 2153, 3517, 1662];
  let held = 10_000, since = 0;
  const releases: number[] = [];
  for (const w of waves) {
    held -= w;
    since += w;
    if (releaseDue(since, held)) {
      releases.push(since);
      since = 0;
    }
  }
  assert.deepEqual(releases, [8338, 1662]);
  // A small outage, or a few flapping checks: never.
  assert.equal(releaseDue(RELEASE_AFTER_FORGETTING - 1, 0), false);
  // Half of a big outage still open: not yet; the rest of it will be forgotten later.
  assert.equal(releaseDue(3000, 3001), false);
  assert.equal(releaseDue(3000, 3000), true);
});
