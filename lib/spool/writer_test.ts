import assert from "node:assert/strict";
import { join } from "node:path";
import { memoryLogger } from "../log/mod.ts";
import { FakeClock } from "../schedule/mod.ts";
import { parseAgentData } from "../sync/agent_parse.ts";
import { readIncidentsModule } from "../sync/incidents.ts";
import { notification, result, T0, tempDir } from "../sync/testing.ts";
import { dataFileName, md5hex } from "./agent_xml.ts";
import { parseSpoolSection } from "./settings.ts";
import { nextSecond, splitBatches, SpoolWriter } from "./writer.ts";

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

function writer(dir: string, clock: FakeClock, extra: Record<string, unknown> = {}) {
  const { settings } = parseSpoolSection({ directory: dir, ...extra }, {
    root: "/",
    node: "node-1",
    stateDir: "/x",
  });
  const log = memoryLogger();
  return { w: new SpoolWriter({ settings: settings!, version: "test", clock, log }), log };
}

Deno.test("splitBatches and nextSecond", () => {
  const a1 = result({ test: "a", startedAt: 1 });
  const a2 = result({ test: "a", startedAt: 2, status: "FAIL" });
  const b1 = result({ test: "b" });
  const a3 = result({ test: "a", startedAt: 3 });
  assert.deepEqual(splitBatches([a1, b1, a2, a3]), [[a1, b1], [a2], [a3]]);
  assert.deepEqual(splitBatches([]), []);
  assert.equal(nextSecond(10_500, 5), 10);
  assert.equal(nextSecond(10_500, 10), 11);
  assert.equal(nextSecond(10_500, 12), 13);
});

Deno.test("SpoolWriter: one Pandora data file per write, named by agent and time, no temporary left", async () => {
  await using d = await tempDir();
  const clock = new FakeClock(T0);
  const { w } = writer(d.path, clock);
  await w.init();
  w.addResult(result({ host: "h1", test: "ping" }));
  w.addResult(
    result({
      host: "h1",
      test: "ping",
      status: "FAIL",
      state: "CRITICAL",
      output: "100% loss",
      startedAt: T0 + 5,
    }),
  );
  w.addResult(result({ host: "h2", test: "ssh" }));
  await w.flush();
  const sec = Math.floor(T0 / 1000);
  const prefix = md5hex("node-1");
  assert.equal(dataFileName("node-1", sec), `${prefix}.${sec}.data`);
  // Two results of h1/ping in one interval: two files, so the history keeps both values.
  assert.deepEqual(await names(d.path), [
    `.dmonitor-spool.${prefix}.last`,
    `${prefix}.${sec}.data`,
    `${prefix}.${sec + 1}.data`,
  ]);
  const first = parseAgentData(await Deno.readFile(join(d.path, `${prefix}.${sec}.data`)));
  assert.equal(first.attrs.agent_name, "node-1");
  assert.deepEqual(first.modules.map((m) => [m.name, m.data]), [["h1/ping", "1"], ["h2/ssh", "1"], [
    "dmonitor spool dropped",
    "0",
  ]]);
  const second = parseAgentData(await Deno.readFile(join(d.path, `${prefix}.${sec + 1}.data`)));
  assert.deepEqual(second.modules.map((m) => [m.name, m.data, m.description]), [
    ["h1/ping", "0", "100% loss"],
    ["dmonitor spool dropped", "0", null],
  ]);
  // Nothing buffered: nothing written.
  await w.flush();
  assert.equal((await names(d.path)).length, 3);
  assert.equal(w.stats().written, 2);
  // A restarted writer continues after the last second used, even when files were sent away.
  for (const n of await names(d.path)) if (n.endsWith(".data")) await Deno.remove(join(d.path, n));
  const again = writer(d.path, clock).w;
  await again.init();
  again.addResult(result());
  await again.flush();
  assert.ok((await names(d.path)).includes(`${prefix}.${sec + 2}.data`));
});

Deno.test("SpoolWriter: a notification is written at once, with the results buffered so far", async () => {
  await using d = await tempDir();
  const clock = new FakeClock(T0);
  const { w } = writer(d.path, clock, { site: "plant-7" });
  await w.init();
  w.addResult(result());
  const n = notification({ host: "db", test: "tcp" });
  await w.notify(n); // durable when it resolves
  const files = (await names(d.path)).filter((x) => x.endsWith(".data"));
  assert.equal(files.length, 1);
  const doc = parseAgentData(await Deno.readFile(join(d.path, files[0]!)));
  assert.equal(doc.attrs.dmonitor_site, "plant-7");
  const inc = doc.modules.find((m) => m.name === "dmonitor incidents")!;
  assert.equal(inc.type, "async_string");
  assert.deepEqual(readIncidentsModule(inc.data), [n]);
});

Deno.test("SpoolWriter: bounded by size and age, oldest dropped first, counted and logged", async () => {
  await using d = await tempDir();
  const clock = new FakeClock(T0);
  const { w, log } = writer(d.path, clock, { max_size: "64KB", max_age: "1h" });
  await w.init();
  const big = "x".repeat(1000);
  // About 12 KB a file: the sixth pushes the total over 64 KB.
  for (let i = 0; i < 8; i++) {
    for (let k = 0; k < 12; k++) w.addResult(result({ test: `t${k}`, output: big }));
    await w.flush();
    await clock.advance(1000);
  }
  let s = w.stats();
  assert.equal(s.written, 8);
  assert.ok(s.dropped >= 2 && s.bytes <= 64 * 1024, JSON.stringify(s));
  assert.equal(s.files, 8 - s.dropped);
  const left = (await names(d.path)).filter((x) => x.endsWith(".data"));
  const secs = left.map((x) => Number(x.split(".")[1]));
  assert.deepEqual(secs, [...secs].sort(), "the newest files stay");
  assert.equal(Math.max(...secs), Math.floor(T0 / 1000) + 7);
  assert.ok(
    log.lines.some((l) =>
      /^WARN \S+ spool full or too old: dropped the oldest files .*totalDropped=/.test(l)
    ),
  );
  // Age: an hour later everything written before is gone, the new file stays; the count carries on.
  await clock.advance(3_600_000);
  w.addResult(result());
  await w.flush();
  s = w.stats();
  assert.equal(s.files, 1);
  assert.equal(s.dropped, 8);
  const only = (await names(d.path)).filter((x) => x.endsWith(".data"));
  const doc = parseAgentData(await Deno.readFile(join(d.path, only[0]!)));
  // The counter travels to the central with the next file (the count before this prune).
  assert.ok(Number(doc.modules.find((m) => m.name === "dmonitor spool dropped")!.data) >= 1);
});
