// Receiving a pushed configuration on a site node: validated with the node's own loader, applied
// with a crash-safe swap, refused when broken.
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseNodeConfig } from "../node/load.ts";
import { tempDir } from "../sync/testing.ts";
import { BUNDLE_CONF, BUNDLE_MD5, bundleMd5, decodeBundle, encodeBundle } from "./bundle.ts";
import { appliedMd5, applyConfigBundle, type ParseTree, rollForward } from "./config_apply.ts";
import { readLocalBundle } from "./sender.ts";

const parse: ParseTree = (files) => parseNodeConfig(files, "site-node");

async function tree(dir: string, files: Record<string, string>) {
  for (const [p, c] of Object.entries(files)) {
    await Deno.mkdir(join(dir, p, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, p), c);
  }
}

async function listTree(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(dir, rel))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listTree(dir, p));
    else out.push(p);
  }
  return out.sort();
}

const LOCAL = {
  "dmonitor.yaml":
    "node: site-a-1\nstate_dir: state\nspool:\n  directory: spool\n  receive_config: true\n",
  "nodes.txt": "",
};

Deno.test("bundle: deterministic encoding, paths confined to hosts.d and silence.d", () => {
  const a = encodeBundle({ files: { "hosts.d/b/ping": "", "hosts.d/a/tcp": "port: 22\n" } });
  const b = encodeBundle({ files: { "hosts.d/a/tcp": "port: 22\n", "hosts.d/b/ping": "" } });
  assert.equal(bundleMd5(a), bundleMd5(b));
  assert.deepEqual(decodeBundle(a).files, { "hosts.d/a/tcp": "port: 22\n", "hosts.d/b/ping": "" });
  const bad = (files: Record<string, unknown>) =>
    new TextEncoder().encode(JSON.stringify({ dmonitor_config_bundle: 1, files }));
  for (
    const p of [
      "peer.key",
      "plugins/check_x",
      "hosts.d/../peer.key",
      "hosts.d/a",
      "hosts.d/.x/y",
      "hosts.d/a/b/c",
      "dmonitor.yaml",
    ]
  ) {
    assert.throws(() => decodeBundle(bad({ [p]: "" })), /bundle path/, p);
  }
  assert.throws(() => decodeBundle(bad({ "hosts.d/a/b": 5 })), /not text/);
  assert.throws(() => decodeBundle(new TextEncoder().encode("{")), /not valid JSON/);
  assert.throws(
    () => decodeBundle(new TextEncoder().encode("{}")),
    /not a dmonitor configuration bundle/,
  );
});

Deno.test("applyConfigBundle: a valid bundle replaces hosts.d and silence.d, keeps the rest", async () => {
  await using d = await tempDir();
  await tree(d.path, {
    ...LOCAL,
    "peer.key": "k".repeat(40),
    "hosts.d/old.example/ping": "",
    "hosts.d/keep.example/ping": "",
    "silence.d/old.example": "until: 2099-01-01\n",
  });
  await Deno.chmod(join(d.path, "peer.key"), 0o600);
  const conf = encodeBundle({
    files: { "hosts.d/keep.example/ping": "", "hosts.d/127.0.0.1/tcp": "port: 2929\n" },
  });
  const md5 = bundleMd5(conf);
  const out = await applyConfigBundle(d.path, conf, md5 + "\n", parse);
  assert.deepEqual(out, { applied: true, md5, files: 2 });
  assert.deepEqual(await listTree(d.path), [
    ".dmonitor-config.applied",
    "dmonitor.yaml",
    "hosts.d/127.0.0.1/tcp",
    "hosts.d/keep.example/ping",
    "nodes.txt",
    "peer.key",
  ]);
  assert.equal(await appliedMd5(d.path), md5);
  assert.equal(await Deno.readTextFile(join(d.path, "hosts.d/127.0.0.1/tcp")), "port: 2929\n");
  // The same pair again: nothing to do.
  assert.deepEqual(await applyConfigBundle(d.path, conf, md5, parse), {
    applied: false,
    md5,
    reason: "unchanged",
    detail: "already in force",
  });
});

Deno.test("applyConfigBundle: an invalid tree or a mismatched pair is never applied", async () => {
  await using d = await tempDir();
  await tree(d.path, { ...LOCAL, "hosts.d/a.example/ping": "" });
  const before = await listTree(d.path);
  // Unknown parameter and a test with neither plugin nor built-in: the node's own loader refuses.
  const conf = encodeBundle({
    files: { "hosts.d/b.example/tcp": "prot: 22\n", "hosts.d/b.example/nosuch": "" },
  });
  const out = await applyConfigBundle(d.path, conf, bundleMd5(conf), parse);
  assert.equal(out.applied, false);
  assert.equal(out.applied === false && out.reason, "invalid");
  assert.match(out.applied === false ? out.detail : "", /hosts\.d\/b\.example\/tcp/);
  assert.match(out.applied === false ? out.detail : "", /nosuch/);
  // Asked again (next poll), it is reported as already refused, and the tree never changed.
  const again = await applyConfigBundle(d.path, conf, bundleMd5(conf), parse);
  assert.equal(again.applied === false && again.reason, "refused");
  assert.deepEqual(
    (await listTree(d.path)).filter((p) => !p.startsWith(".dmonitor-config.refused")),
    before,
  );
  // A .conf whose .md5 does not match (a push in progress): wait.
  const good = encodeBundle({ files: { "hosts.d/c.example/ping": "" } });
  const mm = await applyConfigBundle(d.path, good, "0".repeat(32), parse);
  assert.equal(mm.applied === false && mm.reason, "md5-mismatch");
  assert.equal(await appliedMd5(d.path), null);
});

Deno.test("rollForward: a node killed half-way through applying finishes it at the next attempt", async () => {
  await using d = await tempDir();
  await tree(d.path, { ...LOCAL, "hosts.d/old.example/ping": "", "hosts.d/x.example/ping": "" });
  // What applyConfigBundle leaves if killed after committing the plan and moving one file.
  const stage = join(d.path, ".dmonitor-config-apply");
  await tree(stage, { "files/hosts.d/new.example/ping": "" });
  await tree(d.path, { "hosts.d/moved.example/ping": "" });
  const plan = {
    md5: "a".repeat(32),
    write: ["hosts.d/moved.example/ping", "hosts.d/new.example/ping"],
    remove: ["hosts.d/old.example/ping"],
  };
  await Deno.writeTextFile(join(stage, "plan.json"), JSON.stringify(plan));
  assert.equal(await rollForward(d.path), true);
  assert.deepEqual((await listTree(d.path)).filter((p) => p.startsWith("hosts.d")), [
    "hosts.d/moved.example/ping",
    "hosts.d/new.example/ping",
    "hosts.d/x.example/ping", // not named in the plan: it was not there when the plan was made
  ]);
  assert.equal(await appliedMd5(d.path), plan.md5);
  // A staging directory without a committed plan is just discarded.
  await tree(stage, { "files/hosts.d/half.example/ping": "" });
  assert.equal(await rollForward(d.path), false);
  assert.deepEqual((await listTree(d.path)).filter((p) => p.includes("half")), []);
});

Deno.test("readLocalBundle: finds the pair through Pandora's conf/ and md5/ filters, or at the root", async () => {
  await using d = await tempDir();
  assert.equal(await readLocalBundle(d.path), null);
  await tree(d.path, { [BUNDLE_CONF]: "root", [BUNDLE_MD5]: "m1" });
  assert.equal((await readLocalBundle(d.path))!.md5, "m1");
  await tree(d.path, { [`conf/${BUNDLE_CONF}`]: "filtered", [`md5/${BUNDLE_MD5}`]: "m2" });
  const got = (await readLocalBundle(d.path))!;
  assert.equal(got.md5, "m2");
  assert.equal(new TextDecoder().decode(got.conf), "filtered");
});
