/**
 * The floor under bench/memory_run.ts's figures: the resident memory of scripts that only load
 * what `dmonitor run` cannot do without (the runtime pieces, then our module graph), each against
 * a bare `deno run` of an empty script, with the same V8 flags (default: the release flags).
 *
 *   deno run -A bench/memory_floor.ts [--v8-flags=release|none|--flag,...] [--seconds 6]
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { ROOT } from "../tests/util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "v8-flags": { type: "string", default: "release" },
    seconds: { type: "string", default: "6" },
  },
});
const release = (await Deno.readTextFile(join(ROOT, "packaging/v8-flags.txt"))).split("\n")
  .filter((l) => l.trim() !== "" && !l.startsWith("#")).join(",");
const flags = values["v8-flags"] === "release"
  ? release
  : values["v8-flags"] === "none"
  ? ""
  : values["v8-flags"];

const WAIT = "await new Promise((r) => setTimeout(r, 600_000));\n";
const SERVE = 'Deno.serve({ hostname: "127.0.180.1", port: 0, onListen() {} }, app.fetch);\n';
const SQLITE = 'const db = new DatabaseSync(":memory:");\n' +
  'db.exec("CREATE TABLE t(a, b)"); db.prepare("INSERT INTO t VALUES (?, ?)").run(1, "x");\n';
const scripts: [string, string][] = [
  ["bare deno run (empty script)", WAIT],
  ["node:sqlite, a table written", 'import { DatabaseSync } from "node:sqlite";\n' + SQLITE + WAIT],
  [
    "Deno.serve with a Hono app",
    'import { Hono } from "hono";\nconst app = new Hono();\napp.get("/", (c) => c.text("ok"));\n' +
    SERVE + WAIT,
  ],
  [
    "both (the runtime a node needs)",
    'import { DatabaseSync } from "node:sqlite";\nimport { Hono } from "hono";\n' + SQLITE +
    'const app = new Hono();\napp.get("/", (c) => c.text("ok"));\n' + SERVE + WAIT,
  ],
  // No longer loaded by `dmonitor run` (tests/run_modules_test.ts): what each would cost.
  ["node:fs (lib/fsafe used it before its FFI open)", 'import "node:fs";\n' + WAIT],
  ["node:crypto (SHA-256 before lib/hash)", 'import "node:crypto";\n' + WAIT],
  [
    "node:v8 + node:vm (a full GC without --expose-gc)",
    'import "node:v8";\nimport "node:vm";\n' + WAIT,
  ],
  ["npm:yaml (CommonJS; only for a tree with non-flat YAML)", 'import "yaml";\n' + WAIT],
  [
    "both runtime pieces + node:fs + node:crypto (the floor before this change)",
    'import "node:fs";\nimport "node:crypto";\nimport { DatabaseSync } from "node:sqlite";\n' +
    'import { Hono } from "hono";\n' + SQLITE +
    'const app = new Hono();\napp.get("/", (c) => c.text("ok"));\n' + SERVE + WAIT,
  ],
  [
    "`dmonitor run`'s module graph loaded, nothing run",
    `import ${JSON.stringify(join(ROOT, "lib/cli/run.ts"))};\n` + WAIT,
  ],
];

const dir = await Deno.makeTempDir({ prefix: "dmonitor-bench-floor-" });
const mib = (b: number) => (b / 1048576).toFixed(1);
console.log(
  `memory floor: V8 flags: ${flags || "(none)"}; load average ` +
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
);
let bare = 0;
for (const [i, [label, source]] of scripts.entries()) {
  const file = join(dir, `s${i}.ts`);
  await Deno.writeTextFile(file, source);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      `--config=${join(ROOT, "deno.json")}`,
      ...(flags ? [`--v8-flags=${flags}`] : []),
      file,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
  const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
  child.kill("SIGKILL");
  await child.status;
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  if (i === 0) bare = rss;
  console.log(
    `memory floor: ${label}: ${mib(rss)} MiB (${(rss / bare).toFixed(2)}x bare, ` +
      `+${mib(rss - bare)} MiB)`,
  );
}
await Deno.remove(dir, { recursive: true });
