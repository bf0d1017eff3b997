/**
 * Parses one `hosts.d/<host>/<test>` file into a {@link TestConfig}. Pure: plugin presence and the
 * built-in registry are passed in.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";
import type { ParamSpec } from "../checks/types.ts";
import type { ParamValue, Settings, TestConfig } from "./types.ts";
import {
  parseBool,
  parseChoice,
  type Parsed,
  parseDuration,
  parseInteger,
  parsePort,
  parseString,
  show,
} from "./values.ts";
import { decodeYaml } from "./yaml.ts";
import { defaultTimeout } from "./settings.ts";

/** What the parser needs to know about built-in checks: their parameter specs by name. */
export type BuiltinSpecs = ReadonlyMap<string, { params: Record<string, ParamSpec> }>;

/** Keys every test file may hold, whatever runs it. */
export const GENERIC_KEYS = [
  "interval",
  "timeout",
  "retries",
  "plugin",
  "args",
  "warning",
  "unknown",
  "kind",
];

export interface TestFileInput {
  host: string;
  test: string;
  file: string;
  content: string;
  /** `plugins/check_<test>` exists in the tree (absolute path), or null. */
  treePlugin: string | null;
}

function parseParam(spec: ParamSpec, v: unknown): Parsed<ParamValue> {
  switch (spec.type) {
    case "port":
      return parsePort(v);
    case "int":
      return parseInteger(
        v,
        spec.min ?? Number.MIN_SAFE_INTEGER,
        spec.max ?? Number.MAX_SAFE_INTEGER,
      );
    case "bool":
      return parseBool(v);
    case "duration":
      return parseDuration(v, spec.min ?? 0, spec.max ?? 366 * 86_400_000);
    case "string": {
      const r = parseString(v);
      if (r.ok && spec.minLength !== undefined && r.value.length < spec.minLength) {
        return {
          ok: false,
          message: `must be at least ${spec.minLength} characters, got ${r.value.length}`,
        };
      }
      return r;
    }
  }
}

/** Parses a test file; pushes problems and returns null when the test cannot run. */
export function parseTestFile(
  input: TestFileInput,
  settings: Settings,
  builtins: BuiltinSpecs,
  problems: ConfigProblem[],
): TestConfig | null {
  const { file } = input;
  const before = problems.length;
  const fail = (key: string, message: string) => problems.push({ file, key, message });
  const doc = decodeYaml(input.content, file, problems);
  if (problems.length > before) return null;
  let map: Record<string, unknown> = {};
  if (doc !== null && doc !== undefined) {
    if (typeof doc !== "object" || Array.isArray(doc)) {
      fail("", `must be empty or a YAML mapping of parameters, got ${show(doc)}`);
      return null;
    }
    map = doc as Record<string, unknown>;
  }
  const t: TestConfig = {
    host: input.host,
    test: input.test,
    file,
    executor: { kind: "builtin", name: input.test },
    interval: settings.interval,
    timeout: settings.timeout,
    retries: settings.retries,
    warning: settings.warning,
    unknown: settings.unknown,
    params: {},
  };
  let timeoutWritten = false;
  let pluginPath: string | null = null;
  let pluginInvalid = false;
  let args: string[] | null = null;
  let kind: string | null = null;
  let kindInvalid = false;
  const rest: [string, unknown][] = [];
  for (const [key, v] of Object.entries(map)) {
    const take = <T>(r: Parsed<T>, set: (x: T) => void) =>
      r.ok ? set(r.value) : fail(key, r.message);
    switch (key) {
      case "interval":
        take(parseDuration(v, 1000, 86_400_000), (x) => t.interval = x);
        break;
      case "timeout":
        take(parseDuration(v, 100, 600_000), (x) => {
          t.timeout = x;
          timeoutWritten = true;
        });
        break;
      case "retries":
        take(parseInteger(v, 0, 10), (x) => t.retries = x);
        break;
      case "warning":
        take(parseChoice(v, ["pass", "fail"] as const), (x) => t.warning = x);
        break;
      case "unknown":
        take(parseChoice(v, ["pass", "fail"] as const), (x) => t.unknown = x);
        break;
      case "plugin":
        take(parseString(v), (x) => {
          if (!x.startsWith("/") || x.split("/").includes("..")) {
            fail(key, `must be an absolute path to an executable, got ${show(x)}`);
          } else pluginPath = x;
        });
        pluginInvalid = pluginPath === null;
        break;
      case "kind":
        take(parseString(v, 64), (x) => {
          if (builtins.has(x)) kind = x;
          else {
            fail(
              key,
              `must name a built-in check (${[...builtins.keys()].sort().join(", ")}), got ${
                show(x)
              }`,
            );
          }
        });
        kindInvalid = kind === null;
        break;
      case "args":
        if (!Array.isArray(v) || v.length > 64) {
          fail(key, `must be a list of at most 64 strings, got ${show(v)}`);
        } else {
          const out: string[] = [];
          v.forEach((a, i) => {
            const r = typeof a === "number"
              ? { ok: true as const, value: String(a) }
              : parseString(a);
            if (r.ok) out.push(r.value);
            else fail(`${key}[${i}]`, r.message);
          });
          args = out;
        }
        break;
      default:
        rest.push([key, v]);
    }
  }
  const builtinName: string = kind ?? input.test;
  const builtin = builtins.get(builtinName);
  if (kindInvalid) return null;
  if (pluginPath && kind) {
    fail("kind", `cannot be used with 'plugin': a test runs a plugin or a built-in check`);
    return null;
  }
  if (pluginPath) {
    t.executor = { kind: "plugin", path: pluginPath, args };
  } else if (kind) {
    t.executor = { kind: "builtin", name: kind };
    if (args) fail("args", `only applies to plugins; 'kind: ${kind}' is a built-in check`);
  } else if (input.treePlugin) {
    t.executor = { kind: "plugin", path: input.treePlugin, args };
  } else if (pluginInvalid) {
    return null;
  } else if (builtin) {
    if (args) fail("args", `only applies to plugins; '${input.test}' is a built-in check`);
  } else {
    fail(
      "",
      `test '${input.test}' has no plugin (plugins/check_${input.test} not found, no 'plugin' key) ` +
        `and no built-in check of that name (built-in: ${[...builtins.keys()].sort().join(", ")})`,
    );
    return null;
  }
  if (t.executor.kind === "builtin" && builtin) {
    for (const [key, v] of rest) {
      const spec = builtin.params[key];
      if (!spec) {
        const known = [...GENERIC_KEYS, ...Object.keys(builtin.params)].join(", ");
        fail(key, `is not a parameter of the built-in '${builtinName}' check (known: ${known})`);
        continue;
      }
      const r = parseParam(spec, v);
      if (r.ok) t.params[key] = r.value;
      else fail(key, r.message);
    }
    const given = new Set(rest.map(([k]) => k));
    for (const [key, spec] of Object.entries(builtin.params)) {
      // A value given but invalid is reported once, above, not also as missing.
      if (t.params[key] !== undefined || given.has(key)) continue;
      if (spec.default !== undefined) t.params[key] = spec.default;
      else if (spec.required) fail(key, `is required by the built-in '${builtinName}' check`);
    }
  } else {
    // Plugins receive their parameters as DMONITOR_<KEY> variables: scalars with tame names only.
    for (const [key, v] of rest) {
      if (!/^[a-z][a-z0-9_]{0,63}$/.test(key)) {
        fail(key, `is not a valid parameter name (lower-case letters, digits, '_')`);
      } else if (typeof v === "number" || typeof v === "boolean") {
        t.params[key] = v;
      } else {
        const r = parseString(v);
        if (r.ok) t.params[key] = r.value;
        else fail(key, `must be a string, number or boolean, got ${show(v)}`);
      }
    }
  }
  if (!timeoutWritten && settings.timeoutFrom === undefined) {
    t.timeout = defaultTimeout(t.interval);
  } else if (t.timeout > t.interval) {
    // Name where the timeout was written: this file, or dmonitor.yaml it inherits from.
    const from = timeoutWritten ? "" : ` (inherited from ${settings.timeoutFrom})`;
    const why = timeoutWritten
      ? ""
      : `; set a 'timeout' here or lower it in ${settings.timeoutFrom}`;
    // A dmonitor.yaml timeout above the dmonitor.yaml interval is reported there, once.
    if (timeoutWritten || t.interval !== settings.interval) {
      fail(
        "timeout",
        `must not exceed the interval (${t.interval / 1000}s), got ${
          t.timeout / 1000
        }s${from}${why}`,
      );
    }
  }
  return problems.length > before ? null : t;
}
