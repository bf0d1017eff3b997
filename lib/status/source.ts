/**
 * The status source the node core can fill today: checks from the configuration joined with the
 * state store's last results, and peers from nodes.txt (not contacted: consensus is not wired in).
 * @module
 */
import type { Config } from "../config/types.ts";
import type { CheckSummary, LastResult } from "../store/mod.ts";
import { historyView } from "./history.ts";
import { parsePerfdata } from "../runner/perfdata.ts";
import type { CheckView, StatusView } from "./types.ts";

/** The quorum rule as written in dmonitor.yaml. */
export function quorumText(config: Config): string {
  const q = config.settings.quorum;
  return q.kind === "count" ? String(q.count) : `${q.percent}%`;
}

/** Pure: the view of configured checks and their last results, at `now`. */
export function buildStoreView(
  config: Config,
  results: LastResult[],
  opts: {
    version: string;
    startedAt: number | null;
    now: number;
    /** Stored history per `host\ttest` (StateStore.summaries); checks without get none. */
    summaries?: Map<string, CheckSummary>;
  },
): StatusView {
  const byKey = new Map(results.map((r) => [`${r.host}\t${r.test}`, r]));
  const checks: CheckView[] = config.tests.map((t) => {
    const r = byKey.get(`${t.host}\t${t.test}`);
    const sum = opts.summaries?.get(`${t.host}\t${t.test}`);
    return {
      host: t.host,
      test: t.test,
      status: r?.status ?? "PENDING",
      state: r?.state ?? null,
      output: r?.output ?? "",
      // The store keeps the raw perfdata text; it is parsed here, on read.
      perfdata: parsePerfdata(r?.perfdata ?? "").items,
      since: r?.since ?? null,
      lastRun: r?.startedAt ?? null,
      durationMs: r?.durationMs ?? null,
      intervalMs: t.interval,
      phase: null,
      ...(sum ? { history: historyView(sum, opts.now) } : {}),
    };
  });
  checks.sort((a, b) => a.host.localeCompare(b.host) || a.test.localeCompare(b.test));
  return {
    node: config.settings.node,
    version: opts.version,
    mode: config.settings.singleNode ? "single-node" : "cluster",
    quorum: quorumText(config),
    degraded: false,
    degradedReason: null,
    generatedAt: opts.now,
    startedAt: opts.startedAt,
    checks,
    incidents: [],
    history: [],
    peers: config.peers.map((p) => ({
      name: null,
      address: p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`,
      reachable: null,
      lastContact: null,
      rttMs: null,
      errors: 0,
      lastError: null,
    })),
    sites: [],
    outbox: null,
  };
}
