import assert from "node:assert/strict";
import { fullGc, loadFullGc } from "./mod.ts";

Deno.test("fullGc: V8's gc, looked up once, frees what is unreachable", async () => {
  const gc = await loadFullGc();
  assert.equal(typeof gc, "function");
  assert.equal(fullGc(), gc);
  assert.equal(await loadFullGc(), gc);
  let big: Uint8Array | null = new Uint8Array(16 * 1024 * 1024);
  const ref = new WeakRef(big);
  big = null;
  // A WeakRef's target lives until the current job ends.
  await new Promise((r) => setTimeout(r, 0));
  gc!();
  assert.ok(ref.deref() === undefined, "the unreachable buffer was collected");
});

Deno.test("fullGc: gives the freed heap's pages back to the system, with the release V8 flags", async () => {
  const flags = Deno.readTextFileSync(new URL("../../packaging/v8-flags.txt", import.meta.url))
    .split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")).join(",");
  const script = `
    import { loadFullGc } from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
    const gc = await loadFullGc();
    let keep = [];
    for (let i = 0; i < 2_000_000; i++) keep.push({ a: i, b: "x" + i, c: [i] });
    keep = [];
    const before = Deno.memoryUsage().rss;
    gc();
    console.log(JSON.stringify({ before, after: Deno.memoryUsage().rss }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--v8-flags=${flags}`, script],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const { before, after } = JSON.parse(new TextDecoder().decode(out.stdout));
  const mib = (x: number) => Math.round(x / 1048576);
  assert.ok(before - after > 150 * 1048576, `RSS ${mib(before)} -> ${mib(after)} MiB`);
});
