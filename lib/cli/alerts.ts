/**
 * `dmonitor outbox [--all]`, `dmonitor outbox retry [ID...]` and `dmonitor alert test`: what the
 * alert outbox holds, putting failed messages back in the queue, and a test message through every
 * configured channel.
 * @module
 */
import { resolve } from "node:path";
import {
  alertTargets,
  buildChannels,
  formatOutbox,
  formatTestResults,
  listOutbox,
  retryOutbox,
  sendTestAlert,
} from "../alerts/mod.ts";
import { DEFAULT_CONFIG_DIR } from "../config/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { StateStore } from "../store/mod.ts";
import { type Io, parseFlags } from "./args.ts";
import { loadNodeConfig } from "../node/load.ts";

export const OUTBOX_USAGE = `Usage: dmonitor outbox [--config DIR] [--all]
       dmonitor outbox retry [--config DIR] [ID...]

Lists the alert messages that are pending (waiting for their first or next attempt) or failed
(given up on, with the last error); --all also lists sent and muted ones. 'retry' puts failed
messages (all, or the IDs given) back in the queue, makes a named pending one due now, and sends
one that had no recipient to the alert.d/ targets configured now; a running node picks them up
within 30 s. Exit status: 1 when a named ID cannot be queued (unknown, already sent, muted).`;

export const ALERT_USAGE = `Usage: dmonitor alert test [--config DIR]

Sends a test notification through every channel in alert.d/ (email, webhooks, commands,
Alertmanagers: a test alert posted and resolved at once) now and
prints each result. Exit status: 0 when every channel accepted it, 1 when any did not.`;

export async function outboxCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("outbox", args, {
    config: { type: "string", short: "c" },
    all: { type: "boolean" },
  });
  if (values.help) {
    io.out(OUTBOX_USAGE);
    return 0;
  }
  const [sub, ...ids] = positionals;
  if (sub !== undefined && sub !== "retry") {
    throw new UsageError(
      `dmonitor outbox: expected 'retry' or nothing, got ${JSON.stringify(sub)}`,
    );
  }
  const nums = ids.map((s) => {
    if (!/^\d+$/.test(s)) {
      throw new UsageError(`dmonitor outbox retry: IDs are numbers, got ${JSON.stringify(s)}`);
    }
    return Number(s);
  });
  const config = await loadNodeConfig(values.config ?? DEFAULT_CONFIG_DIR);
  using store = StateStore.open(resolve(config.root, config.settings.state_dir));
  if (sub === "retry") {
    const targets = alertTargets(config.sections.alerts);
    const r = retryOutbox(store.db, nums.length ? nums : "all", Date.now(), targets);
    for (const p of r.problems) io.err(`dmonitor outbox retry: ${p}`);
    io.out(`${r.queued} message${r.queued === 1 ? "" : "s"} queued again`);
    return nums.length > 0 && r.problems.length > 0 ? 1 : 0;
  }
  io.out(formatOutbox(listOutbox(store.db, { all: values.all ?? false }), Date.now()));
  return 0;
}

export async function alertCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("alert", args, {
    config: { type: "string", short: "c" },
  });
  if (values.help) {
    io.out(ALERT_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "test") {
    throw new UsageError(
      `dmonitor alert: expected 'test', got ${JSON.stringify(positionals.join(" "))}`,
    );
  }
  const config = await loadNodeConfig(values.config ?? DEFAULT_CONFIG_DIR);
  const settings = config.sections.alerts;
  const built = await buildChannels(settings);
  try {
    const results = await sendTestAlert(alertTargets(settings), built.channels, {
      node: config.settings.node,
    });
    io.out(formatTestResults(results));
    return results.length > 0 && results.every((r) => r.ok) ? 0 : 1;
  } finally {
    built.close();
  }
}
