// The puller's loop logic: site unreachable and recovery (manual clock), notifications exactly
// once even when the notifier fails, retries, and a slow site not delaying a fast one.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { memoryLogger } from "../log/mod.ts";
import { FakeClock } from "../schedule/mod.ts";
import { startTestServer } from "../tentacle/testing.ts";
import { SyncPuller } from "./puller.ts";
import { parseSyncSection } from "./settings.ts";
import {
  dataFile,
  freePort,
  notification,
  recordingNotifier,
  result,
  T0,
  tempDir,
} from "./testing.ts";

function puller(work: string, section: Record<string, unknown>, clock = new FakeClock(T0)) {
  const { settings, problems } = parseSyncSection(
    {
      directory: join(work, "sync"),
      sites_dir: join(work, "sites.d"),
      sync_retries: 0,
      ...section,
    },
    { root: work, stateDir: work },
  );
  assert.deepEqual(problems, []);
  const notifier = recordingNotifier();
  const log = memoryLogger();
  const p = new SyncPuller(settings!, {
    db: new DatabaseSync(":memory:"),
    notifier,
    logger: log,
    clock,
    node: "central",
    random: () => 1,
  });
  return { p, notifier, clock, log, settings: settings! };
}

Deno.test("SyncPuller: a site not reached for unreachable_after raises one incident, recovers once", async () => {
  await using w = await tempDir();
  const port = freePort();
  const { p, notifier, clock } = puller(w.path, {
    sites: { "plant-7": `127.0.0.1:${port}` },
    unreachable_after: "5m",
    sync_timeout: 1,
  });
  const kinds = () => notifier.seen.map((n) => `${n.kind} ${n.id}`);
  assert.equal((await p.runOnce())[0]!.ok, false);
  await clock.advance(4 * 60_000);
  await p.runOnce();
  assert.deepEqual(kinds(), []);
  await clock.advance(60_000);
  await p.runOnce();
  await clock.advance(60_000);
  await p.runOnce();
  const id = `sync/plant-7/unreachable/${T0}`;
  assert.deepEqual(kinds(), [`down ${id}/down`]);
  const down = notifier.seen[0]!;
  assert.equal(down.site, "plant-7");
  assert.equal(down.host, `127.0.0.1:${port}`);
  assert.match(down.votes[0]!.output, /site not reached since .*Cannot connect/);
  assert.equal(p.views()[0]!.errors, 4);
  assert.match(p.views()[0]!.lastError!, /Cannot connect/);
  // The site is back.
  await using srv = await startTestServer({ insecure: true, port });
  await Deno.writeTextFile(join(srv.dir, "a.1.data"), dataFile("n1", T0, [result()]));
  await clock.advance(60_000);
  const out = await p.runOnce();
  assert.equal(out[0]!.ok, true);
  assert.deepEqual(kinds(), [`down ${id}/down`, `recovered ${id}/recovered`]);
  assert.equal(notifier.seen[1]!.endedAt, clock.now());
  const v = p.views()[0]!;
  assert.deepEqual([v.name, v.lastPull, v.files], ["plant-7", clock.now(), 1]);
  await p.runOnce();
  assert.equal(notifier.seen.length, 2);
});

Deno.test("SyncPuller: a notifier that refuses is retried; each notification is accepted once", async () => {
  await using w = await tempDir();
  await using srv = await startTestServer({ insecure: true });
  const { p, notifier } = puller(w.path, { sites: { s: `127.0.0.1:${srv.port}` } });
  const n = notification();
  await Deno.writeTextFile(join(srv.dir, "a.1.data"), dataFile("n1", T0, [], [n]));
  notifier.fail = true;
  await p.runOnce();
  assert.equal(notifier.seen.length, 0);
  assert.equal((await p.store.pendingNotifications()).length, 1);
  notifier.fail = false;
  await Deno.writeTextFile(join(srv.dir, "b.2.data"), dataFile("n2", T0, [], [n]));
  await p.runOnce();
  await p.runOnce();
  assert.deepEqual(notifier.seen.map((x) => x.id), ["site/s/inc-1/down"]);
});

Deno.test("SyncPuller: retries with backoff within a cycle; sync_retries bounds the attempts", async () => {
  await using w = await tempDir();
  const port = freePort();
  const clock = new FakeClock(T0);
  const { p, log } = puller(w.path, {
    sites: { s: `127.0.0.1:${port}` },
    sync_retries: 2,
    backoff_base: "1s",
    sync_timeout: 1,
  }, clock);
  const cycle = p.cycle(p.settings.sites[0]!);
  // Attempt 1 fails at once; the retries wait 1 s and 2 s on the manual clock.
  for (let i = 0; i < 50 && clock.sleepers === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await clock.advance(1000);
  for (let i = 0; i < 50 && clock.sleepers === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await clock.advance(2000);
  const out = await cycle;
  assert.deepEqual([out.ok, out.attempts], [false, 3]);
  assert.equal(log.lines.filter((l) => /cannot pull site/.test(l)).length, 3);
  assert.equal((await p.refreshViews())[0]!.errors, 3);
});

Deno.test("SyncPuller: a silent site does not delay another one", async () => {
  await using w = await tempDir();
  await using fast = await startTestServer({ insecure: true });
  await Deno.writeTextFile(join(fast.dir, "a.1.data"), dataFile("n1", T0, [result()]));
  // Accepts connections and never answers.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of silent) held.push(c);
  })();
  const { p } = puller(w.path, {
    sites: {
      slow: `127.0.0.1:${(silent.addr as Deno.NetAddr).port}`,
      fast: `127.0.0.1:${fast.port}`,
    },
    sync_timeout: 2,
    parallel: 2,
  });
  const t0 = Date.now();
  const slow = p.cycle(p.settings.sites[0]!);
  const quick = await p.cycle(p.settings.sites[1]!);
  const fastMs = Date.now() - t0;
  assert.equal(quick.ok, true);
  assert.ok(fastMs < 1500, `fast site took ${fastMs} ms`);
  assert.equal((await slow).ok, false);
  assert.ok(Date.now() - t0 >= 1900);
  silent.close();
  for (const c of held) c.close();
});
