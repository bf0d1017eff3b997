/**
 * `dmonitor check HOST [TEST...]`: runs checks now and prints `HOST TEST STATUS output` lines.
 * @module
 */
import { BUILTIN_CHECKS } from "../checks/mod.ts";
import { type Config, DEFAULT_CONFIG_DIR, parseConfig, type TestConfig } from "../config/mod.ts";
import { parseTestFile } from "../config/hosts.ts";
import { parseHostName } from "../config/values.ts";
import { ConfigError, type ConfigProblem, formatProblem, UsageError } from "../errors/mod.ts";
import { formatPerfItem, Limiter, parsePerfdata } from "../runner/mod.ts";
import { createExecutor } from "../node/execute.ts";
import { type Io, parseFlags } from "./args.ts";
import { hostname, loadNodeConfig } from "../node/load.ts";
import { pluginUser } from "../node/load.ts";
import { sanitizeText } from "../text/mod.ts";

export const CHECK_USAGE = `Usage: dmonitor check [--config DIR] [--set KEY=VALUE]... HOST [TEST...]

Runs the tests configured for HOST in DIR/hosts.d/HOST (default ${DEFAULT_CONFIG_DIR}) now, or only
the TESTs named. A TEST not configured for HOST runs ad hoc with its defaults (a plugin
plugins/check_TEST or a built-in check); --set gives it parameters, e.g. --set port=2222.
Prints one line per test: HOST TEST STATE output, where STATE is what the check said: OK,
WARNING, CRITICAL, UNKNOWN (Nagios plugins), OK or FAIL (dmonitor scripts), ERROR (could not run)
or TIMEOUT. A failing plugin's stderr is appended as [stderr: ...]; each perfdata item follows on
an indented "  perfdata LABEL=VALUE[UNIT];WARN;CRIT;MIN;MAX" line. Exit status: 0 when every test passes (a WARNING passes unless 'warning: fail'), 2
when any does not, 1 on a broken configuration, 64 on a
usage error.`;

/** An empty configuration, for ad-hoc checks on a machine with no tree yet. */
function emptyConfig(root: string): Config {
  return parseConfig({ root, entries: [] }, { builtins: BUILTIN_CHECKS, hostname: hostname() });
}

export async function checkCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("check", args, {
    config: { type: "string", short: "c" },
    set: { type: "string", multiple: true, short: "s" },
  });
  if (values.help) {
    io.out(CHECK_USAGE);
    return 0;
  }
  const [host, ...names] = positionals;
  if (!host) throw new UsageError("dmonitor check: missing HOST (see 'dmonitor check --help')");
  const h = parseHostName(host);
  if (!h.ok) throw new UsageError(`dmonitor check: HOST ${h.message}`);
  const sets = (values.set ?? []).map((kv) => {
    // The value is YAML, as in a test file: port=2222 is a number, path=/x a string.
    const m = /^([a-z][a-z0-9_]*)=([^\n]*)$/.exec(kv);
    if (!m) {
      throw new UsageError(`dmonitor check: --set takes KEY=VALUE, got ${JSON.stringify(kv)}`);
    }
    return `${m[1]}: ${m[2]}`;
  });

  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  let config: Config;
  try {
    config = await loadNodeConfig(dir);
  } catch (e) {
    const missing = e instanceof ConfigError && values.config === undefined &&
      e.problems.length === 1 && /does not exist/.test(e.problems[0]!.message);
    if (!missing) throw e;
    config = emptyConfig(dir);
  }

  const configured = config.tests.filter((t) => t.host === host);
  let tests: TestConfig[];
  if (names.length === 0) {
    if (configured.length === 0) {
      io.err(
        `dmonitor check: no tests configured for ${host} in ${dir}/hosts.d/${host}; name the tests to run`,
      );
      return 64;
    }
    tests = configured;
  } else {
    const problems: ConfigProblem[] = [];
    tests = [];
    for (const name of names) {
      const have = configured.find((t) => t.test === name);
      if (have && sets.length === 0) {
        tests.push(have);
        continue;
      }
      const plugin = `${config.root}/plugins/check_${name}`;
      let treePlugin: string | null = null;
      try {
        if (Deno.statSync(plugin).isFile) treePlugin = plugin;
      } catch { /* no such plugin: a built-in, or an error below */ }
      const t = parseTestFile(
        {
          host,
          test: name,
          file: `${host} ${name} (ad hoc)`,
          content: sets.join("\n"),
          treePlugin,
        },
        config.settings,
        BUILTIN_CHECKS,
        problems,
      );
      if (t) tests.push(t);
    }
    if (problems.length > 0) {
      for (const p of problems) io.err(`dmonitor check: ${formatProblem(p)}`);
      return 64;
    }
  }

  const execute = createExecutor({
    limiter: new Limiter(config.settings.concurrency),
    builtins: BUILTIN_CHECKS,
    user: await pluginUser(config),
  });
  const results = await Promise.all(tests.map((t) => execute(t)));
  // What the check said (WARNING, CRITICAL, UNKNOWN, ...), not only pass/fail: a WARNING that
  // passes is still a WARNING to the person who asked. Plugin output goes to the operator's
  // terminal: no control sequences from it get there.
  // Perfdata follows as one indented `perfdata` line per item; a failure's stderr is already in
  // its output.
  for (const r of results) {
    io.out(sanitizeText(`${r.host} ${r.test} ${r.state} ${r.output}`).trimEnd());
    for (const p of parsePerfdata(r.perfdata).items) {
      io.out(sanitizeText(`  perfdata ${formatPerfItem(p)}`));
    }
  }
  return results.every((r) => r.status === "OK") ? 0 : 2;
}
