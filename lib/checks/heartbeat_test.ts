import assert from "node:assert/strict";
import type { ConfigProblem } from "../errors/mod.ts";
import { parseTestFile } from "../config/hosts.ts";
import type { Settings } from "../config/types.ts";
import { heartbeatTiming } from "./heartbeat.ts";
import { BUILTIN_CHECKS } from "./mod.ts";
import { loadYamlLibrary } from "../config/yaml.ts";

// parseTestFile is synchronous: readConfigTree loads the YAML library for the files that need it,
// and these tests hand it such files directly.
await loadYamlLibrary();

const settings = {
  interval: 30_000,
  timeout: 10_000,
  retries: 0,
  warning: "pass",
  unknown: "fail",
} as Settings;

function parse(test: string, content: string, treePlugin: string | null = null) {
  const problems: ConfigProblem[] = [];
  const file = `hosts.d/backup1/${test}`;
  const t = parseTestFile(
    { host: "backup1", test, file, content, treePlugin },
    settings,
    BUILTIN_CHECKS,
    problems,
  );
  return { t, problems: problems.map((p) => `${p.file}: '${p.key}' ${p.message}`) };
}

Deno.test("kind: heartbeat under any test name, with its token, period and grace", () => {
  const { t, problems } = parse(
    "nightly",
    "kind: heartbeat\ntoken: 0123456789abcdef\nperiod: 1d\ngrace: 1h\ninterval: 1m\n",
    "/etc/dmonitor/plugins/check_nightly",
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(t!.executor, { kind: "builtin", name: "heartbeat" }, "kind beats a tree plugin");
  assert.deepEqual(t!.params, { token: "0123456789abcdef", period: 86_400_000, grace: 3_600_000 });
  assert.deepEqual(heartbeatTiming(t!.params, t!.interval), {
    periodMs: 86_400_000,
    graceMs: 3_600_000,
  });
  assert.deepEqual(heartbeatTiming({}, 30_000), { periodMs: 30_000, graceMs: 3_000 });
  assert.deepEqual(heartbeatTiming({}, 2_000), { periodMs: 2_000, graceMs: 1_000 });
  // A test named heartbeat needs no kind.
  assert.deepEqual(parse("heartbeat", "token: 0123456789abcdef\n").problems, []);
});

Deno.test("heartbeat: each mistake names the file, the key and the value", () => {
  assert.deepEqual(parse("nightly", "kind: heartbeat\n").problems, [
    "hosts.d/backup1/nightly: 'token' is required by the built-in 'heartbeat' check",
  ]);
  assert.deepEqual(parse("nightly", "kind: heartbeat\ntoken: short\ngrace: soon\n").problems, [
    "hosts.d/backup1/nightly: 'token' must be at least 16 characters, got 5",
    "hosts.d/backup1/nightly: 'grace' must be a duration like 30s, 5m or 1h, got \"soon\"",
  ]);
  assert.match(
    parse("nightly", "kind: heartbeats\n").problems[0]!,
    /'kind' must name a built-in check \(dns, heartbeat, http.*\), got "heartbeats"/,
  );
  assert.match(
    parse("nightly", "kind: heartbeat\nplugin: /bin/true\ntoken: 0123456789abcdef\n").problems[0]!,
    /'kind' cannot be used with 'plugin'/,
  );
});
