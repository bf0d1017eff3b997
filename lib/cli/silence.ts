/**
 * `dmonitor silence add|list|remove` and `dmonitor ack`: silences and acknowledgements shared by
 * every node. Each asks the running node on this machine, which stores the change and sends it to
 * its peers (lib/shared). Flag and argument checks are pure ({@link parseSilenceAdd}).
 * @module
 */
import { DEFAULT_CONFIG_DIR, parseDuration } from "../config/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { parseSilenceTime } from "../alerts/mod.ts";
import { ago, zonedTime } from "../status/format.ts";
import { sanitizeText } from "../text/mod.ts";
import { type Io, parseFlags } from "./args.ts";
import { actor, callLocalNode, LocalNodeError } from "./local_node.ts";

export const SILENCE_USAGE =
  `Usage: dmonitor silence add HOST[/TEST] (--for DURATION | --until TIME) --reason TEXT
                        [--by NAME] [--config DIR]
       dmonitor silence list [--json] [--config DIR]
       dmonitor silence remove ID [--by NAME] [--config DIR]

Silences are shared by every node of the cluster: added on any node, stored there and sent to
every peer at once; a node that was down or cut off gets them when it is in contact again.
Whichever node notifies, no down notice or reminder goes out for HOST (every test) or HOST/TEST
until the silence ends. DURATION is like 30m, 2h or 1d12h; TIME is ISO 8601 with a zone, such as
2025-03-01T18:00Z or 2025-03-01T18:00+01:00. Ends go by each node's wall clock. 'list' shows the
shared silences in force and this node's silence.d/ files. --by names who acts (default: the
user behind sudo, else $USER). Run on a node, as its user or root.
Exit status: 0 done, 1 the node cannot be asked or refused, 64 usage error.`;

export const ACK_USAGE = `Usage: dmonitor ack HOST/TEST [--reason TEXT] [--by NAME] [--config DIR]

Acknowledges the open incident of HOST/TEST on every node: its reminders stop, the recovery
notice is still sent, and the page, JSON and 'dmonitor status' show who acknowledged it, when
and why. Run on a node, as its user or root.
Exit status: 0 done, 1 the node cannot be asked or refused (no open incident), 64 usage error.`;

/** HOST[/TEST] as typed; `needTest` for ack. */
export function parseTarget(
  command: string,
  s: string | undefined,
  needTest: boolean,
): { host: string; test: string | null } {
  const form = needTest ? "HOST/TEST" : "HOST[/TEST]";
  if (s === undefined) throw new UsageError(`dmonitor ${command}: ${form} is missing`);
  const parts = s.split("/");
  const ok = /^[A-Za-z0-9_:][A-Za-z0-9._:-]{0,252}$/;
  if (parts.length > 2 || !parts.every((p) => ok.test(p)) || (needTest && parts.length !== 2)) {
    throw new UsageError(
      `dmonitor ${command}: ${form} must be a host${
        needTest ? " and" : ", optionally with"
      } a test name, such as db1${needTest ? "" : " or db1"}/ssh, got ${JSON.stringify(s)}`,
    );
  }
  return { host: parts[0]!, test: parts[1] ?? null };
}

/** The end of a silence from `--for` or `--until` (exactly one), at `now`. Pure. */
export function silenceEnd(v: { for?: string; until?: string }, now: number): number {
  if ((v.for === undefined) === (v.until === undefined)) {
    throw new UsageError(
      "dmonitor silence add: give exactly one of --for DURATION (such as 2h) or --until TIME",
    );
  }
  if (v.for !== undefined) {
    const d = parseDuration(v.for, 1000, 366 * 86_400_000);
    if (!d.ok) throw new UsageError(`dmonitor silence add: --for ${d.message}`);
    return now + d.value;
  }
  const t = parseSilenceTime(v.until!);
  if (t === null) {
    throw new UsageError(
      "dmonitor silence add: --until must be an ISO 8601 time with a zone, such as " +
        `2025-03-01T18:00Z or 2025-03-01T18:00+01:00, got ${JSON.stringify(v.until)}`,
    );
  }
  if (t <= now) {
    throw new UsageError(
      `dmonitor silence add: --until ${v.until} is in the past (now ${zonedTime(now)})`,
    );
  }
  return t;
}

interface Sent {
  peer: string;
  ok: boolean;
  error: string | null;
}

function sentText(sent: readonly Sent[], what: string): string {
  if (sent.length === 0) return "no peers (single-node mode)";
  const ok = sent.filter((s) => s.ok).map((s) => s.peer);
  const bad = sent.filter((s) => !s.ok);
  const parts = [ok.length ? `sent to ${ok.join(", ")}` : null];
  for (const b of bad) {
    parts.push(
      `${b.peer} not reached (${
        sanitizeText(b.error ?? "")
      }): it gets the ${what} when it is in contact again`,
    );
  }
  return parts.filter((x) => x !== null).join("; ");
}

export async function silenceCommand(args: string[], io: Io, now = Date.now()): Promise<number> {
  const { values, positionals } = parseFlags("silence", args, {
    config: { type: "string", short: "c" },
    for: { type: "string" },
    until: { type: "string" },
    reason: { type: "string" },
    by: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    io.out(SILENCE_USAGE);
    return 0;
  }
  const [sub, ...rest] = positionals;
  const dir = values.config ?? DEFAULT_CONFIG_DIR;
  const extra = (n: number) => {
    if (rest.length > n) {
      throw new UsageError(
        `dmonitor silence ${sub}: unexpected argument ${JSON.stringify(rest[n])}`,
      );
    }
  };
  const only = (allowed: string[]) => {
    for (const k of ["for", "until", "reason", "by", "json"]) {
      if ((values as Record<string, unknown>)[k] !== undefined && !allowed.includes(k)) {
        throw new UsageError(`dmonitor silence ${sub}: --${k} does not apply here`);
      }
    }
  };
  try {
    switch (sub) {
      case "add": {
        extra(1);
        only(["for", "until", "reason", "by"]);
        const target = parseTarget("silence add", rest[0], false);
        const until = silenceEnd(values, now);
        if (values.reason === undefined || values.reason.trim() === "") {
          throw new UsageError(
            "dmonitor silence add: --reason TEXT is required (whoever sees the silence learns why)",
          );
        }
        const r = await callLocalNode("silence add", dir, "POST", "/v1/local/silences", {
          ...target,
          until,
          reason: values.reason,
          by: actor(values.by),
        });
        const s = r.silence as { id: string; origin: string; until: number };
        io.out(
          `silence ${s.id} added on ${s.origin}: ${target.host}${
            target.test ? `/${target.test}` : " (every test)"
          } until ${zonedTime(s.until)} (${ago(s.until, now)})\n` +
            sentText(r.sent as Sent[], "silence"),
        );
        return 0;
      }
      case "list": {
        extra(0);
        only(["json"]);
        const r = await callLocalNode("silence list", dir, "GET", "/v1/local/silences");
        if (values.json) {
          io.out(JSON.stringify({ shared: r.shared, files: r.files }, null, 2));
          return 0;
        }
        io.out(formatSilenceList(r as unknown as SilenceList));
        return 0;
      }
      case "remove": {
        extra(1);
        only(["by"]);
        const id = rest[0];
        if (id === undefined || !/^[0-9a-f]{12}$/.test(id)) {
          throw new UsageError(
            `dmonitor silence remove: ID must be the 12 hex digits 'dmonitor silence list' shows, got ${
              JSON.stringify(id ?? "")
            }${
              id?.startsWith("silence.d/") ? " (a silence.d/ file is removed by deleting it)" : ""
            }`,
          );
        }
        const r = await callLocalNode("silence remove", dir, "POST", "/v1/local/silences/remove", {
          id,
          by: actor(values.by),
        });
        io.out(`silence ${id} removed\n` + sentText(r.sent as Sent[], "removal"));
        return 0;
      }
      default:
        throw new UsageError(
          `dmonitor silence: expected add, list or remove, got ${JSON.stringify(sub ?? "")} ` +
            "(see 'dmonitor silence --help')",
        );
    }
  } catch (e) {
    if (!(e instanceof LocalNodeError)) throw e;
    io.err(e.message);
    return 1;
  }
}

interface SilenceList {
  node: string;
  now: number;
  shared: {
    id: string;
    host: string;
    test: string | null;
    until: number;
    reason: string;
    by: string;
    origin: string;
  }[];
  files: { file: string; host: string; test: string | null; until: number; reason: string }[];
}

/** The `silence list` table. Pure. */
export function formatSilenceList(l: SilenceList): string {
  if (l.shared.length === 0 && l.files.length === 0) return "No silence in force.\n";
  const rows = [["ID", "HOST", "TEST", "UNTIL", "BY", "REASON"]];
  for (const s of l.shared) {
    rows.push([
      s.id,
      s.host,
      s.test ?? "*",
      `${zonedTime(s.until)} (${ago(s.until, l.now)})`,
      `${s.by} on ${s.origin}`,
      s.reason,
    ]);
  }
  for (const f of l.files) {
    rows.push([
      f.file,
      f.host,
      f.test ?? "*",
      `${zonedTime(f.until)} (${ago(f.until, l.now)})`,
      `file on ${l.node}`,
      f.reason,
    ]);
  }
  const clean = rows.map((r) => r.map((c) => sanitizeText(c)));
  const widths = clean[0]!.map((_, i) => Math.max(...clean.map((r) => r[i]!.length)));
  return clean.map((r) =>
    r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join("  ").trimEnd()
  ).join("\n") + "\n";
}

export async function ackCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags("ack", args, {
    config: { type: "string", short: "c" },
    reason: { type: "string" },
    by: { type: "string" },
  });
  if (values.help) {
    io.out(ACK_USAGE);
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError(`dmonitor ack: unexpected argument ${JSON.stringify(positionals[1])}`);
  }
  const target = parseTarget("ack", positionals[0], true);
  try {
    const r = await callLocalNode(
      "ack",
      values.config ?? DEFAULT_CONFIG_DIR,
      "POST",
      "/v1/local/ack",
      { ...target, reason: values.reason ?? "", by: actor(values.by) },
    );
    const a = r.ack as { id: string; by: string; origin: string };
    io.out(
      `incident ${a.id} (${target.host}/${target.test}) acknowledged by ${a.by} on ${a.origin}: ` +
        "reminders stop, the recovery notice is still sent\n" +
        sentText(r.sent as Sent[], "acknowledgement"),
    );
    return 0;
  } catch (e) {
    if (!(e instanceof LocalNodeError)) throw e;
    io.err(e.message);
    return 1;
  }
}
