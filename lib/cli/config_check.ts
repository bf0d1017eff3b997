/**
 * `dmonitor config check`: validates the tree, prints every problem, exits 1 when there are any.
 * @module
 */
import { ConfigError, formatProblemIn } from "../errors/mod.ts";
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { type Io, parseFlags } from "./args.ts";
import { loadNodeConfig } from "../node/load.ts";
import { loadResources } from "../node/resources.ts";
import type { AlertSettings } from "../alerts/mod.ts";
import { CONFIG_DIFF_USAGE, configDiff } from "./config_diff.ts";

/** `3 alert targets (1 email, 1 webhook, 1 command)`: every kind alert.d/ holds, not only mail. */
export function targetCount(a: AlertSettings): string {
  const n = a.emails.length + a.webhooks.length + a.commands.length + a.alertmanagers.length;
  const kind = (k: number, w: string) => `${k} ${w}${k === 1 ? "" : "s"}`;
  return `${kind(n, "alert target")} (${kind(a.emails.length, "email")}, ` +
    `${kind(a.webhooks.length, "webhook")}, ${kind(a.commands.length, "command")}` +
    (a.alertmanagers.length ? `, ${kind(a.alertmanagers.length, "alertmanager")})` : ")");
}

export const CONFIG_USAGE = `Usage: dmonitor config check [--config DIR]
       dmonitor config diff [--config DIR] PEER

check: validates the configuration tree (default ${DEFAULT_CONFIG_DIR}) and prints every problem,
one per line, as 'file: 'key' message'. Exit status: 0 when valid, 1 when not, 64 on a usage error.

diff: prints how this tree differs from the configuration PEER runs, as PEER reports it
('dmonitor config diff --help').`;

/** The other alert.d channels, by kind, for the OK line: `, 1 webhook, 2 alertmanagers`. */

export async function configCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("config", args, {
    config: { type: "string", short: "c" },
  });
  if (positionals[0] === "diff") {
    if (values.help) {
      io.out(CONFIG_DIFF_USAGE);
      return 0;
    }
    if (positionals.length !== 2) {
      io.err(
        `dmonitor config diff: expected one PEER, got ${
          JSON.stringify(positionals.slice(1).join(" "))
        } (see 'dmonitor config diff --help')`,
      );
      return 64;
    }
    return await configDiff(values.config ?? DEFAULT_CONFIG_DIR, positionals[1]!, io);
  }
  if (values.help) {
    io.out(CONFIG_USAGE);
    return 0;
  }
  if (positionals[0] !== "check" || positionals.length !== 1) {
    io.err(
      `dmonitor config: expected 'check' or 'diff PEER', got ${
        JSON.stringify(positionals.join(" "))
      } (see 'dmonitor config --help')`,
    );
    return 64;
  }
  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  try {
    // The same two steps as `dmonitor run`: the tree in one pass, then the files it points at.
    const c = await loadNodeConfig(dir);
    (await loadResources(c)).close();
    const hosts = new Set(c.tests.map((t) => t.host)).size;
    io.out(
      `${dir}: OK: node ${c.settings.node}, ${hosts} hosts, ${c.tests.length} tests, ` +
        `${c.peers.length} peers${c.settings.singleNode ? " (single-node mode)" : ""}, ` +
        targetCount(c.sections.alerts),
    );
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) {
      io.err(formatProblemIn(dir, p));
    }
    io.err(`${dir}: ${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}`);
    return 1;
  }
}
