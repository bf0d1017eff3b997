import assert from "node:assert/strict";
import { memoryLogger } from "../log/mod.ts";
import { keepTrimmed, releaseAfterStart, STEP_GAP_MS } from "./memory.ts";

Deno.test("releaseAfterStart: one release after the wait, logged; none once the node stops", async () => {
  const log = memoryLogger();
  const ctl = new AbortController();
  releaseAfterStart("start", log, ctl.signal, 0);
  const stopped = new AbortController();
  releaseAfterStart("reload", log, stopped.signal, 0);
  stopped.abort();
  await until(() => log.lines.length > 0);
  // The stopped one would have logged by now too: its steps started at the same time.
  await new Promise((r) => setTimeout(r, 3 * STEP_GAP_MS));
  assert.equal(log.lines.length, 1, log.lines.join("\n"));
  assert.match(log.lines[0]!, /memory returned after start .*rss_mb=\d+->\d+ .*longest_ms=\d+/);
});

Deno.test("releaseMemory: gives a big outage's heap back in three steps, with the release V8 flags", async () => {
  const flags = Deno.readTextFileSync(new URL("../../packaging/v8-flags.txt", import.meta.url))
    .split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")).join(",");
  const script = `
    import { releaseMemory } from ${JSON.stringify(new URL("./memory.ts", import.meta.url).href)};
    let keep = [];
    for (let i = 0; i < 2_000_000; i++) keep.push({ a: i, b: "x" + i, c: [i] });
    keep = [];
    console.log(JSON.stringify(await releaseMemory()));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--v8-flags=${flags}`, script],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  const mib = (x: number) => Math.round(x / 1048576);
  // Plain GC, last-resort GC, malloc_trim: each ran, and the pages came back.
  assert.equal(r.steps, 3);
  assert.ok(r.longestMs <= r.ms);
  assert.ok(
    r.rssBefore - r.rssAfter > 150 * 1048576,
    `RSS ${mib(r.rssBefore)} -> ${mib(r.rssAfter)} MiB`,
  );
});

Deno.test("keepTrimmed: trims on its interval until the node stops", async () => {
  const ctl = new AbortController();
  const runs = keepTrimmed(memoryLogger(), ctl.signal, 1);
  await until(() => runs() >= 2);
  ctl.abort();
  const at = runs();
  // Several of its 1 ms periods later, the cleared interval has not fired again.
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(runs(), at);
});

Deno.test("fixMallocThresholds: a freed big block no longer sends later blocks into the arenas", async () => {
  // In a process of its own: malloc and free a 1 MiB block (mmap'd), then take a 512 KiB one. By
  // default glibc has raised its mmap threshold to 1 MiB by then, so the 512 KiB block comes from
  // the arena; with the thresholds fixed it is mmap'd (mallinfo2's count of mmap'd blocks grows).
  const mmapped = async (fix: boolean) => {
    const script = `
      import { fixMallocThresholds } from ${
      JSON.stringify(new URL("./memory.ts", import.meta.url).href)
    };
      const c = Deno.dlopen("libc.so.6", {
        malloc: { parameters: ["usize"], result: "pointer" },
        free: { parameters: ["pointer"], result: "void" },
        mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
      }).symbols;
      const hblks = () => new BigUint64Array(c.mallinfo2().buffer)[3];
      const fixed = ${fix} ? fixMallocThresholds() : null;
      c.free(c.malloc(1048576n));
      const before = hblks();
      const p = c.malloc(524288n);
      console.log(JSON.stringify({ fixed, grew: Number(hblks() - before) }));
      c.free(p);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      env: { GLIBC_TUNABLES: "" },
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  assert.deepEqual(await mmapped(false), { fixed: null, grew: 0 });
  assert.deepEqual(await mmapped(true), { fixed: true, grew: 1 });
});

async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 1));
}
