/**
 * What `dmonitor run` loads before its configuration decides (issue 14, memory): the static module
 * graph of lib/cli/run.ts, from `deno info --json`. Every module here costs resident memory in
 * every node (bench/memory_breakdown.ts, bench/memory_floor.ts); what a configuration may not use
 * comes by a literal `await import()` (which `deno bundle` and `deno compile` still include).
 * Binds nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./util.ts";

interface Info {
  roots: string[];
  redirects?: Record<string, string>;
  modules: {
    specifier: string;
    dependencies?: { isDynamic?: boolean; code?: { specifier: string } }[];
  }[];
}

/** The modules `entry` loads before any of its code runs: its graph without dynamic imports. */
async function staticGraph(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as Info;
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...info.roots];
  while (todo.length > 0) {
    const s = info.redirects?.[todo.at(-1)!] ?? todo.at(-1)!;
    todo.pop();
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of modules.get(s)?.dependencies ?? []) {
      if (!d.isDynamic && d.code) todo.push(d.code.specifier);
    }
  }
  const root = pathToFileURL(ROOT).href + "/";
  return [...seen].map((s) => s.startsWith(root) ? s.slice(root.length) : s).sort();
}

Deno.test("dmonitor run loads no driver, mailer, YAML library, other command or site code at start", async () => {
  const graph = await staticGraph(join(ROOT, "lib/cli/run.ts"));
  // Section parsers of the optional parts are needed to read any tree; their code is not.
  const allowed = new Set([
    "lib/pg/files.ts",
    "lib/pg/settings.ts",
    "lib/spool/settings.ts",
    "lib/sync/settings.ts",
    "lib/tentacle/options.ts",
    "lib/tentacle/protocol.ts",
    "lib/cli/args.ts",
    "lib/cli/preload.ts",
    "lib/cli/run.ts",
    "lib/cli/version.ts",
  ]);
  const unwanted = graph.filter((s) =>
    /^npm:\/?(pg|nodemailer|yaml)@/.test(s) ||
    (/^lib\/(pg|spool|sync|tentacle|init|cli)\//.test(s) && !allowed.has(s))
  );
  assert.deepEqual(unwanted, []);
  assert.ok(graph.includes("lib/node/daemon.ts"), graph.join("\n"));
});

Deno.test("main.ts loads only the command line until a command is chosen", async () => {
  const graph = await staticGraph(join(ROOT, "main.ts"));
  const ours = graph.filter((s) => s.startsWith("lib/"));
  assert.ok(ours.length <= 10, `main.ts loads ${ours.length} modules of ours:\n${ours.join("\n")}`);
  assert.ok(!ours.includes("lib/node/daemon.ts"));
});
