/**
 * Metric families computed from the status view at scrape time, so `/metrics`, the page and the
 * JSON always agree. Counters other parts increment live in lib/metrics.
 * @module
 */
import type { Family } from "../metrics/mod.ts";
import type { CheckView, StatusView } from "./types.ts";
import { MAX_PERF_ITEMS } from "../runner/perfdata.ts";

/** One sample per perfdata item; a label+unit repeated within a check keeps its first value. */
function perfSamples(x: CheckView): Family["samples"] {
  const seen = new Set<string>();
  const out: Family["samples"] = [];
  for (const p of (x.perfdata ?? []).slice(0, MAX_PERF_ITEMS)) {
    const key = `${p.label}\t${p.unit}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      labels: { host: x.host, test: x.test, label: p.label, unit: p.unit },
      value: p.value,
    });
  }
  return out;
}

const RAW_STATES = ["OK", "FAIL", "WARNING", "CRITICAL", "UNKNOWN", "ERROR", "TIMEOUT"] as const;
const PHASES = ["suspect", "local-only", "unconfirmed", "down", "recovering", "recovered"] as const;
const CHECK_PHASES = ["ok", ...PHASES] as const;

const seconds = (ms: number) => ms / 1000;

/** Every view-derived family; absent data (a check never run, a peer never contacted) is omitted. */
export function viewFamilies(view: StatusView): Family[] {
  const g = (name: string, help: string, samples: Family["samples"]): Family => ({
    name,
    help,
    type: "gauge",
    samples,
  });
  const c = (name: string, help: string, samples: Family["samples"]): Family => ({
    name,
    help,
    type: "counter",
    samples,
  });
  const ran = view.checks.filter((x) => x.lastRun !== null);
  const hostTest = (x: { host: string; test: string }) => ({ host: x.host, test: x.test });
  return [
    g("dmonitor_build_info", "Version, node name and mode of this dmonitor; always 1.", [
      { labels: { version: view.version, node: view.node, mode: view.mode }, value: 1 },
    ]),
    g(
      "dmonitor_degraded",
      "1 when this node considers itself degraded and does not vote failures.",
      [
        { labels: {}, value: view.degraded ? 1 : 0 },
      ],
    ),
    g("dmonitor_checks", "Configured checks.", [{ labels: {}, value: view.checks.length }]),
    g(
      "dmonitor_check_up",
      "1 when the check's last run passed, 0 when it failed or timed out.",
      ran.map((x) => ({
        labels: hostTest(x),
        value: x.status === "OK" ? 1 : 0,
      })),
    ),
    g(
      "dmonitor_check_state",
      "The check's last raw state (OK, FAIL, WARNING, CRITICAL, UNKNOWN, ERROR, TIMEOUT): 1 for the current one.",
      ran.flatMap((x) =>
        RAW_STATES.map((s) => ({
          labels: { ...hostTest(x), state: s },
          value: x.state === s ? 1 : 0,
        }))
      ),
    ),
    g(
      "dmonitor_check_duration_seconds",
      "How long the check's last run took.",
      ran.map((x) => ({
        labels: hostTest(x),
        value: seconds(x.durationMs ?? 0),
      })),
    ),
    g(
      "dmonitor_check_last_run_timestamp_seconds",
      "When the check last ran (Unix time).",
      ran.map((x) => ({
        labels: hostTest(x),
        value: seconds(x.lastRun!),
      })),
    ),
    g(
      "dmonitor_check_status_since_timestamp_seconds",
      "When the check entered its current pass/fail status (Unix time).",
      ran.filter((x) => x.since !== null).map((x) => ({
        labels: hostTest(x),
        value: seconds(x.since!),
      })),
    ),
    g(
      "dmonitor_check_phase",
      'The check\'s incident phase on this node (ok, suspect, local-only, unconfirmed, down, recovering, recovered): 1 for the current one. Alert on phase="down" for a confirmed outage.',
      view.checks.filter((x) => x.phase !== null).flatMap((x) =>
        CHECK_PHASES.map((p) => ({
          labels: { ...hostTest(x), phase: p },
          value: x.phase === p ? 1 : 0,
        }))
      ),
    ),
    g(
      "dmonitor_check_perfdata",
      "The check's last perfdata values, in the plugin's own unit (label unit; \"\" for none), at most 20 per check.",
      ran.flatMap((x) => perfSamples(x)),
    ),
    g(
      "dmonitor_incidents_open",
      "Open incidents and failures being confirmed, by phase.",
      PHASES.map((p) => ({
        labels: { phase: p },
        value: view.incidents.filter((i) => i.state === p).length,
      })),
    ),
    g("dmonitor_peers", "Peers configured in nodes.txt.", [{
      labels: {},
      value: view.peers.length,
    }]),
    g(
      "dmonitor_peer_up",
      "1 when the peer answered the last contact, 0 when it did not (absent before the first contact).",
      view.peers.filter((p) => p.reachable !== null).map((p) => ({
        labels: { peer: p.address },
        value: p.reachable ? 1 : 0,
      })),
    ),
    g(
      "dmonitor_peer_rtt_seconds",
      "Round-trip time of the last successful peer contact.",
      view.peers.filter((p) => p.rttMs !== null).map((p) => ({
        labels: { peer: p.address },
        value: seconds(p.rttMs!),
      })),
    ),
    g(
      "dmonitor_peer_last_contact_timestamp_seconds",
      "When the peer last answered (Unix time).",
      view.peers.filter((p) => p.lastContact !== null).map((p) => ({
        labels: { peer: p.address },
        value: seconds(p.lastContact!),
      })),
    ),
    c(
      "dmonitor_peer_errors_total",
      "Failed contacts with the peer since this node started.",
      view.peers.map((p) => ({ labels: { peer: p.address }, value: p.errors })),
    ),
    ...agreementFamilies(view, g),
    g(
      "dmonitor_peer_clock_offset_seconds",
      "The peer's clock minus this node's, from the timestamps it signs into its requests " +
        "(absent without a recent request).",
      view.peers.filter((p) => typeof p.clockOffsetMs === "number").map((p) => ({
        labels: { peer: p.address },
        value: seconds(p.clockOffsetMs!),
      })),
    ),
    g(
      "dmonitor_silences",
      "Silences in force: shared by the cluster (dmonitor silence add) or this node's silence.d/ files.",
      view.silences === undefined ? [] : (["shared", "file"] as const).map((kind) => ({
        labels: { kind },
        value: view.silences!.filter((x) => (x.file === undefined) === (kind === "shared")).length,
      })),
    ),
    g(
      "dmonitor_incidents_acknowledged",
      "Open incidents acknowledged with dmonitor ack (their reminders are muted).",
      [{ labels: {}, value: view.incidents.filter((i) => i.acknowledged).length }],
    ),
    g(
      "dmonitor_outbox_depth",
      "Notifications waiting in the outbox for (re)delivery.",
      view.outbox ? [{ labels: {}, value: view.outbox.pending }] : [{ labels: {}, value: 0 }],
    ),
    g(
      "dmonitor_outbox_failed",
      "Notifications the outbox gave up on.",
      view.outbox ? [{ labels: {}, value: view.outbox.failed }] : [{ labels: {}, value: 0 }],
    ),
    g(
      "dmonitor_sync_lag_seconds",
      "How far behind each remote site's newest pulled result is.",
      view.sites.filter((s) => s.lagMs !== null).map((s) => ({
        labels: { site: s.name },
        value: seconds(s.lagMs!),
      })),
    ),
    g(
      "dmonitor_sync_last_pull_timestamp_seconds",
      "When each remote site was last pulled (Unix time).",
      view.sites.filter((s) => s.lastPull !== null).map((s) => ({
        labels: { site: s.name },
        value: seconds(s.lastPull!),
      })),
    ),
    c(
      "dmonitor_sync_errors_total",
      "Failed pulls from each remote site since this node started.",
      view.sites.map((s) => ({ labels: { site: s.name }, value: s.errors })),
    ),
  ];
}

/**
 * Configuration agreement: per peer whether its tree agrees and how many entries differ, one
 * sample per differing host/test (at most the 50 the view lists per peer), and the tests that
 * can never be confirmed.
 */
function agreementFamilies(
  view: StatusView,
  g: (name: string, help: string, samples: Family["samples"]) => Family,
): Family[] {
  const a = view.agreement;
  if (!a) return [];
  const known = a.peers.filter((p) => p.agrees !== null);
  return [
    g(
      "dmonitor_peer_config_agrees",
      "1 when the peer's configuration digest equals this node's, 0 when it differs (absent until known).",
      known.map((p) => ({ labels: { peer: p.address }, value: p.agrees ? 1 : 0 })),
    ),
    g(
      "dmonitor_peer_config_differences",
      "How many entries (host/test, or the cluster's quorum and nodes) differ from the peer's.",
      known.map((p) => ({ labels: { peer: p.address }, value: p.differenceCount })),
    ),
    g(
      "dmonitor_peer_config_differs",
      "1 per entry that differs from the peer's (key: host/test or (cluster); change: only-here, only-there, differs); at most 50 per peer.",
      known.flatMap((p) =>
        p.differences.map((d) => ({
          labels: { peer: p.address, key: d.key, change: d.change },
          value: 1,
        }))
      ),
    ),
    g(
      "dmonitor_check_unconfirmable",
      "1 for a test too few nodes run to ever reach the quorum.",
      a.unconfirmable.map((u) => ({ labels: { host: u.host, test: u.test }, value: 1 })),
    ),
  ];
}
