import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { ConfigProblem } from "../errors/mod.ts";
import type { Notification } from "../quorum/types.ts";
import { decodeYaml, loadYamlLibrary } from "../config/yaml.ts";
import { EVERYTHING, globMatch, parseRoute, type RoutedTarget, routeTargets } from "./route.ts";

// The routes below are real YAML; a tree read from disk loads the library itself.
await loadYamlLibrary();

function notice(over: Partial<Notification> = {}): Notification {
  return {
    id: "n1",
    kind: "down",
    incidentId: "i1",
    host: "db1",
    test: "ssh",
    startedAt: 1_000_000,
    endedAt: null,
    votes: [],
    nodesTotal: 1,
    notifier: "node1",
    site: null,
    ...over,
  };
}

function route(yaml: string) {
  const problems: ConfigProblem[] = [];
  const r = parseRoute(
    decodeYaml(yaml, "alert.d/x.command.route", problems),
    "alert.d/x.command.route",
    problems,
  );
  return { r, problems: problems.map((p) => `${p.file}|${p.key}|${p.message}`) };
}

Deno.test("globMatch: * and ? over the whole name, other characters literal", () => {
  const table: [string, string, boolean][] = [
    ["db*", "db1", true],
    ["db*", "web1", false],
    ["db?", "db1", true],
    ["db?", "db12", false],
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "aexample.com", false],
    ["ssh", "ssh", true],
    ["ssh", "sshd", false],
    ["*", "", true],
  ];
  for (const [p, n, want] of table) assertEquals(globMatch(p, n), want, `${p} ~ ${n}`);
});

Deno.test("parseRoute: keys, defaults and every error naming file, key and value", () => {
  assertEquals(route("").r, EVERYTHING);
  assertEquals(
    route(
      "hosts: [db*]\ntests: [ssh, 'http?']\nsites: [local]\nkinds: [down, recovered]\nmin_duration: 2m\n",
    ).r,
    {
      hosts: ["db*"],
      tests: ["ssh", "http?"],
      sites: ["local"],
      kinds: ["down", "recovered"],
      minDuration: 120_000,
    },
  );
  assertEquals(route("tests: other\n").r.tests, ["other"]);
  const F = "alert.d/x.command.route";
  const table: [string, string[]][] = [
    ["hello\n", [
      `${F}||must be a mapping (hosts, tests, sites, kinds, min_duration), got "hello"`,
    ]],
    ["kinds: [down, up]\n", [`${F}|kinds[1]|must be one of down, recovered, reminder, got "up"`]],
    ["tests: [ok, 'a b']\n", [
      `${F}|tests[1]|must be a name or glob pattern (letters, digits, . _ - @ : and * ?), got "a b"`,
    ]],
    ["hosts: []\n", [`${F}|hosts|must list at least one pattern, got []`]],
    ["sites: {a: 1}\n", [`${F}|sites|must be a list of patterns, got a mapping`]],
    ["min_duration: soon\n", [
      `${F}|min_duration|must be a duration like 30s, 5m or 1h, got "soon"`,
    ]],
    ["owner: me\n", [
      `${F}|owner|is not a known setting (known: hosts, tests, sites, kinds, min_duration)`,
    ]],
  ];
  for (const [yaml, want] of table) assertEquals(route(yaml).problems, want, yaml);
});

Deno.test("routeTargets: filters by host, test, site and kind; min_duration holds down notices", () => {
  const r = (yaml: string) => route(yaml).r;
  const targets: RoutedTarget[] = [
    { channel: "email", name: "all@example.com" },
    { channel: "command", name: "other", route: r("tests: [other]") },
    { channel: "webhook", name: "db", route: r("hosts: ['db*']\nkinds: [down]") },
    { channel: "command", name: "site", route: r("sites: [branch-?]") },
    { channel: "command", name: "slow", route: r("min_duration: 5m") },
  ];
  const now = 1_060_000;
  const names = (d: ReturnType<typeof routeTargets>) => ({
    send: d.send.map((s) => `${s.target.name}@${s.at - now}`),
    skipped: d.skipped.map((s) => `${s.target.name}: ${s.note}`),
  });
  assertEquals(names(routeTargets(targets, notice(), now)), {
    send: ["all@example.com@0", "db@0", "slow@240000"],
    skipped: [
      "other: not routed: tests other",
      "site: not routed: sites branch-?",
    ],
  });
  assertEquals(
    names(
      routeTargets(targets, notice({ kind: "recovered", test: "other", site: "branch-1" }), now),
    ),
    {
      send: ["all@example.com@0", "other@0", "site@0", "slow@0"],
      skipped: ["db: not routed: kinds down"],
    },
  );
  assertEquals(names(routeTargets(targets, notice({ kind: "reminder", host: "web1" }), now)), {
    send: ["all@example.com@0"],
    skipped: [
      "other: not routed: tests other",
      "db: not routed: hosts db*",
      "site: not routed: sites branch-?",
      "slow: not routed: before min_duration",
    ],
  });
  // Once the outage is older than min_duration the down notice is due at once.
  assertEquals(names(routeTargets(targets.slice(4), notice(), now + 600_000)).send, [
    "slow@600000",
  ]);
});
