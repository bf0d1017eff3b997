/**
 * The loopback blocks of tests/util.ts stay private: no two test files name an address in the same
 * 127.0.100-199 block, and no e2e test binds the shared 127.0.0.2-9 addresses that other
 * checkouts' tests may be using at the same moment (127.0.103.x is consensus_test.ts's, say).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./util.ts";

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(ROOT, dir))) {
    if (e.isFile && e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out.sort();
}

Deno.test("every test file has its own loopback block; none uses the shared 127.0.0.2-9", async () => {
  const owner = new Map<string, string>();
  const clashes: string[] = [];
  const shared: string[] = [];
  // util.ts holds the table of blocks; this file names them in its doc comment.
  const skip = new Set(["tests/util.ts", "tests/addresses_test.ts"]);
  for (const file of (await sources("tests")).filter((f) => !skip.has(f))) {
    const text = await Deno.readTextFile(join(ROOT, file));
    // Literals and regexps both: 127.0.103.2 and 127\.0\.103\.2.
    for (const m of text.matchAll(/127\\?\.0\\?\.(1\d\d)\\?\.\d+/g)) {
      const block = m[1]!;
      const was = owner.get(block);
      if (was === undefined) owner.set(block, file);
      else if (was !== file) clashes.push(`127.0.${block}.0/24: ${was} and ${file}`);
    }
    if (file.endsWith("_test.ts") && /127\\?\.0\\?\.0\\?\.[2-9]\b/.test(text)) shared.push(file);
  }
  assert.deepEqual([...new Set(clashes)], [], "a block is used by two files");
  assert.deepEqual(shared, [], "e2e files on the shared 127.0.0.2-9");
  assert.ok(owner.size >= 10, `blocks found: ${[...owner.keys()].join(", ")}`);
});
