import assert from "node:assert/strict";
import {
  EMBEDDED_FILES,
  generatePeerKey,
  InitError,
  placeFile,
  planInit,
  writeInit,
} from "./mod.ts";

Deno.test("generatePeerKey: 43 base64url characters from 32 random bytes", () => {
  const k = generatePeerKey((b) => b.fill(0xff));
  assert.equal(k, "_".repeat(42) + "8");
  const a = generatePeerKey();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, generatePeerKey(), "fresh each time");
});

Deno.test("planInit: everything on an empty tree, only what is missing otherwise", () => {
  const all = planInit(() => false, "k");
  assert.deepEqual(
    all.write.map((f) => f.path).sort(),
    [...EMBEDDED_FILES.map((f) => f.path), "peer.key"].sort(),
  );
  assert.equal(all.write.find((f) => f.path === "peer.key")!.mode, 0o600);
  assert.deepEqual(all.existing, []);
  const some = planInit((p) => p === "dmonitor.yaml" || p === "peer.key" || p === "hosts.d", "k");
  assert.deepEqual(some.existing, ["dmonitor.yaml", "peer.key"]);
  assert.ok(!some.dirs.includes("hosts.d"));
  // Shipped plugins named like a built-in would replace it: they go to examples/plugins/.
  const shadow = { path: "plugins/check_ping", mode: 0o755, text: "" };
  assert.deepEqual(placeFile(shadow, new Set(["ping"])).path, "examples/plugins/check_ping");
  assert.deepEqual(placeFile(shadow, new Set(["tcp"])).path, "plugins/check_ping");
  assert.deepEqual(
    placeFile({ ...shadow, path: "nodes.txt" }, new Set(["ping"])).path,
    "nodes.txt",
  );
  const plugins = planInit(() => false, "k", { pluginsOnly: true });
  assert.ok(plugins.write.every((f) => f.path.startsWith("plugins/")));
});

Deno.test("writeInit writes the tree with modes, refuses to overwrite, merges missing files", async () => {
  const root = await Deno.makeTempDir();
  const dir = `${root}/etc/dmonitor`;
  const r = await writeInit(dir);
  assert.ok(r.created.includes("dmonitor.yaml") && r.created.includes("peer.key"));
  const key = await Deno.readTextFile(`${dir}/peer.key`);
  assert.match(key, /^[A-Za-z0-9_-]{43}\n$/);
  assert.equal((await Deno.stat(`${dir}/peer.key`)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(`${dir}/dmonitor.yaml`)).mode! & 0o777, 0o644);
  assert.ok((await Deno.stat(`${dir}/alert.d`)).isDirectory);
  for (const f of EMBEDDED_FILES.filter((f) => f.path.startsWith("plugins/"))) {
    assert.equal((await Deno.stat(`${dir}/${f.path}`)).mode! & 0o777, 0o755, f.path);
  }

  await Deno.writeTextFile(`${dir}/dmonitor.yaml`, "node: mine\n");
  await assert.rejects(writeInit(dir), (e: unknown) => {
    assert.ok(e instanceof InitError);
    assert.match(e.message, /^refusing to overwrite \d+ existing file\(s\) in .*: dmonitor.yaml, /);
    return true;
  });
  assert.equal(
    await Deno.readTextFile(`${dir}/dmonitor.yaml`),
    "node: mine\n",
    "user's file untouched",
  );
  assert.equal(await Deno.readTextFile(`${dir}/peer.key`), key, "key untouched");

  await Deno.remove(`${dir}/nodes.txt`);
  const m = await writeInit(dir, { merge: true });
  assert.deepEqual(m.created, ["nodes.txt"]);
  assert.equal(await Deno.readTextFile(`${dir}/dmonitor.yaml`), "node: mine\n");
  const again = await writeInit(dir, { merge: true });
  assert.deepEqual(again.created, []);
  await Deno.remove(root, { recursive: true });
});

Deno.test("the example tree's Nagios check_disk line is one check_disk accepts", async () => {
  const text = EMBEDDED_FILES.map((f) => f.text).join("\n");
  const m = /plugin: (\S*\/check_disk)\n#\s+args: (\[.*\])/.exec(text);
  assert.ok(m, "the example shows check_disk with its args");
  const args = JSON.parse(m[2]!) as string[];
  // check_disk checks local file systems only: it has no -H and no {host} to fill in.
  assert.ok(!args.includes("-H") && !args.some((a) => a.includes("{host}")), `args ${m[2]}`);
  const plugin = m[1]!;
  const installed = await Deno.stat(plugin).then(() => true, () => false);
  if (!installed) return; // Debian monitoring-plugins-basic runs the line for real.
  const out = await new Deno.Command(plugin, { args, stdout: "piped", stderr: "piped" }).output();
  const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok([0, 1, 2].includes(out.code), `exit ${out.code}: ${said}`);
  assert.match(said, /^DISK (OK|WARNING|CRITICAL)/);
});
