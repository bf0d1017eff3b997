/**
 * Nothing depends on the source tree at run time: the program bundled from main.ts (as `make
 * bundle` does), copied to a directory outside the repository and run there with the release
 * permissions, no deno.json and no lock file, still does everything. And `make build` fails with
 * one clear line where it cannot get Deno's runtime.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./util.ts";
import { trustedTempDir } from "../lib/runner/testing.ts";
import { bundle, releasePermissions, run } from "./ops_util.ts";
import { BUILTIN_CHECKS } from "../lib/checks/mod.ts";

Deno.test("lib/init/embedded.ts is generated from packaging/example and plugins/ and up to date", async () => {
  const r = await run(Deno.execPath(), [
    "run",
    "--quiet",
    "-R",
    "-W",
    "--allow-run",
    "packaging/embed.ts",
    "--check",
  ], {
    cwd: ROOT,
  });
  assert.equal(r.code, 0, r.stderr);
});

Deno.test("the bundle runs outside the repository: version, init, config check, check, run and status", async (t) => {
  // Plugins run as nobody when the tests run as root; not under /tmp (lib/runner/trust.ts).
  const dir = await trustedTempDir("dmonitor-outside-");
  const js = join(dir, "dmonitor.js");
  await Deno.copyFile(await bundle(), js);
  const text = await Deno.readTextFile(js);
  assert.ok(!text.includes(ROOT), "the bundle names no path in the source tree");
  const perms = await releasePermissions();
  const env = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: dir, NO_COLOR: "1" };
  const dm = (args: string[]) =>
    run(Deno.execPath(), ["run", "--quiet", "--no-config", "--no-lock", ...perms, js, ...args], {
      cwd: dir,
      env,
      clearEnv: true,
    });

  await t.step("version", async () => {
    const r = await dm(["version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dmonitor \d+\.\d+\.\d+\n$/);
  });

  const tree = join(dir, "etc");
  await t.step(
    "init writes the embedded example tree and plugins; config check accepts it",
    async () => {
      const r = await dm(["init", tree]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created .*\/etc\/dmonitor\.yaml/);
      assert.match(r.stdout, /created .*\/etc\/peer\.key/);
      assert.match(await Deno.readTextFile(join(tree, "dmonitor.yaml")), /^# dmonitor settings/);
      const example = await Deno.readTextFile(join(ROOT, "packaging/example/nodes.txt"));
      assert.equal(await Deno.readTextFile(join(tree, "nodes.txt")), example);
      let shipped = 0;
      for await (const p of Deno.readDir(join(ROOT, "plugins"))) {
        if (!p.name.startsWith("check_")) continue;
        // Script versions of built-in checks would replace them: they are shipped as examples.
        const sub = BUILTIN_CHECKS.has(p.name.slice("check_".length))
          ? "examples/plugins"
          : "plugins";
        const st = await Deno.stat(join(tree, sub, p.name));
        assert.equal(st.mode! & 0o777, 0o755, p.name);
        assert.equal(
          await Deno.readTextFile(join(tree, sub, p.name)),
          await Deno.readTextFile(join(ROOT, "plugins", p.name)),
        );
        shipped++;
      }
      assert.ok(shipped > 0, "the repository ships plugins");
      const c = await dm(["config", "check", "--config", tree]);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /OK: node \S+, 1 hosts, 1 tests, 0 peers \(single-node mode\)/);
      const again = await dm(["init", tree]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^dmonitor init: refusing to overwrite \d+ existing file\(s\)/);
    },
  );

  await t.step("check against a local listener", async () => {
    using l = Deno.listen({ hostname: "127.0.101.1", port: 0 });
    (async () => {
      for await (const c of l) c.close();
    })().catch(() => {});
    const r = await dm([
      "check",
      "--config",
      tree,
      "--set",
      `port=${(l.addr as Deno.NetAddr).port}`,
      "127.0.101.1",
      "tcp",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^127\.0\.101\.1 tcp OK/);
  });

  await t.step("run serves the status page; status reads it", async () => {
    await Deno.writeTextFile(
      join(tree, "dmonitor.yaml"),
      `listen: 127.0.101.2:2929\nstate_dir: ${join(dir, "state")}\ninterval: 1s\ntimeout: 900ms\n`,
    );
    await Deno.writeTextFile(join(tree, "hosts.d/localhost/ping"), "");
    await Deno.mkdir(join(tree, "hosts.d/127.0.101.1"));
    await Deno.writeTextFile(join(tree, "hosts.d/127.0.101.1/marker"), "");
    await Deno.writeTextFile(join(tree, "plugins/check_marker"), "#!/bin/sh\necho OK marker\n", {
      mode: 0o755,
    });
    await Deno.chmod(join(tree, "plugins/check_marker"), 0o755);
    const node = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-config", "--no-lock", ...perms, js, "run", "--config", tree],
      cwd: dir,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      let view: { checks: { test: string; status: string; output: string }[] } | null = null;
      for (
        let i = 0;
        i < 100 && !view?.checks.some((c) => c.test === "marker" && c.status === "OK");
        i++
      ) {
        await new Promise((r) => setTimeout(r, 100));
        view = await fetch("http://127.0.101.2:2929/v1/status").then((r) => r.json()).catch(() =>
          null
        );
      }
      assert.ok(view, "the node answers");
      const marker = view.checks.find((c) => c.test === "marker");
      assert.deepEqual([marker?.status, marker?.output], ["OK", "marker"]);
      const page = await (await fetch("http://127.0.101.2:2929/")).text();
      assert.match(page, /127\.0\.101\.1 <span class="small">marker<\/span>/);
      const s = await dm(["status", "--config", tree]);
      assert.match(s.stdout, /UP +127\.0\.101\.1 +marker/);
    } finally {
      node.kill("SIGTERM");
      const st = await node.status;
      const log = await new Response(node.stderr).text();
      assert.equal(st.code, 0, log);
      assert.doesNotMatch(log, /NotCapable|Requires .* access/, "the release permissions suffice");
    }
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("make build fails with one clear line when it cannot get Deno's runtime", async () => {
  const deno = Deno.execPath();
  // A full deno binary is not a denort: the result would start a REPL, and the build says so.
  const notDenort = await run("sh", ["packaging/build.sh"], {
    cwd: ROOT,
    env: { DENO: deno, DENORT_BIN: deno, ARCHS: Deno.build.arch },
    timeoutMs: 120_000,
  });
  assert.equal(notDenort.code, 1);
  assert.equal(
    notDenort.stderr,
    `make build: cannot build dist/dmonitor-linux-${Deno.build.arch}: the runtime ${deno} is not denort (the result does not run dmonitor); point DENORT_BIN at denort ${Deno.version.deno}, not at deno\n`,
  );
  const missing = await run("sh", ["packaging/build.sh"], {
    cwd: ROOT,
    env: { DENO: deno, DENORT_BIN: "/nonexistent/denort" },
  });
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "make build: DENORT_BIN=/nonexistent/denort does not exist\n");

  // The other architecture cannot use this machine's runtime; with no download it stops in one line.
  const other = Deno.build.arch === "x86_64" ? "aarch64" : "x86_64";
  const cross = await run("sh", ["packaging/build.sh"], {
    cwd: ROOT,
    env: { DENO: deno, DENORT_BIN: deno, ARCHS: other },
    timeoutMs: 300_000,
  });
  if (cross.code === 0) {
    // This machine can download Deno's runtime: the cross build worked instead.
    assert.match(cross.stderr, new RegExp(`built dist/dmonitor-linux-${other}`));
  } else {
    assert.equal(cross.stderr.split("\n").length, 2, cross.stderr);
    assert.match(
      cross.stderr,
      new RegExp(
        `^make build: cannot build dist/dmonitor-linux-${other}: deno compile could not download its runtime denort ` +
          `${
            Deno.version.deno.replace(/\./g, "\\.")
          } for ${other}-unknown-linux-gnu and no local one was given ` +
          `\\(DENORT_BIN is a ${Deno.build.arch} runtime\\); set DENORT_BIN_${other.toUpperCase()}=/path/to/denort`,
      ),
    );
  }
});
