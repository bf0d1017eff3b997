/**
 * A full status view for tests: checks up, down and pending, an open incident with votes, peers
 * reachable and not, a remote site, history and an outbox.
 * @module
 */
import type { CheckPageView, HistoryView, StatusView } from "./types.ts";

export const NOW = Date.UTC(2025, 10, 21, 9, 30, 0);
const MIN = 60_000;

export function sampleView(over: Partial<StatusView> = {}): StatusView {
  return {
    node: "alpha",
    version: "0.1.0",
    mode: "cluster",
    quorum: "2",
    degraded: false,
    degradedReason: null,
    generatedAt: NOW,
    startedAt: NOW - 3 * 60 * MIN,
    checks: [
      {
        host: "www.example.com",
        test: "https",
        status: "OK",
        state: "OK",
        output: "HTTP 200 in 41 ms",
        since: NOW - 2 * 60 * MIN,
        lastRun: NOW - 20_000,
        durationMs: 41,
        intervalMs: 60_000,
        phase: null,
        history: sampleHistory(),
      },
      {
        host: "db.example.com",
        test: "tcp",
        status: "FAIL",
        state: "FAIL",
        output: "connection refused on port 5432",
        since: NOW - 7 * MIN,
        lastRun: NOW - 5_000,
        durationMs: 3,
        intervalMs: 60_000,
        phase: "down",
      },
      {
        host: "mail.example.com",
        test: "smtp",
        status: "TIMEOUT",
        state: "TIMEOUT",
        output: "no banner within 10s",
        since: NOW - 2 * MIN,
        lastRun: NOW - 12_000,
        durationMs: 10_000,
        intervalMs: 60_000,
        phase: "local-only",
      },
      {
        host: "new.example.com",
        test: "ping",
        status: "PENDING",
        state: null,
        output: "",
        since: null,
        lastRun: null,
        durationMs: null,
        intervalMs: 60_000,
        phase: null,
      },
    ],
    incidents: [{
      id: "alpha-1732181000000",
      host: "db.example.com",
      test: "tcp",
      state: "down",
      since: NOW - 6 * MIN,
      votes: [
        {
          node: "alpha",
          status: "FAIL",
          output: "connection refused on port 5432",
          at: NOW - 6 * MIN,
        },
        { node: "beta", status: "FAIL", output: "connection refused", at: NOW - 6 * MIN + 800 },
        {
          node: "gamma",
          status: "UNREACHABLE",
          output: "no answer in 11s",
          at: NOW - 6 * MIN + 11_000,
        },
      ],
      notifier: "alpha",
      notified: true,
      site: null,
    }],
    history: [{
      id: "beta-1732170000000",
      host: "www.example.com",
      test: "https",
      startedAt: NOW - 150 * MIN,
      endedAt: NOW - 125 * MIN,
      notifier: "beta",
      site: null,
    }],
    peers: [
      {
        name: "beta",
        address: "10.0.0.2:2929",
        reachable: true,
        lastContact: NOW - 4_000,
        rttMs: 2.4,
        errors: 0,
        lastError: null,
      },
      {
        name: null,
        address: "10.0.0.3:2929",
        reachable: false,
        lastContact: null,
        rttMs: null,
        errors: 17,
        lastError: "connection refused",
      },
    ],
    sites: [{
      name: "plant-7",
      lastPull: NOW - 40_000,
      lagMs: 95_000,
      files: 120,
      errors: 1,
      lastError: null,
      drainedBy: "central-2",
    }],
    outbox: { pending: 1, failed: 0, oldest: NOW - 30_000 },
    ...over,
  };
}

const HOUR = 60 * MIN;

/** A day of history: up, 25 minutes of CRITICAL 2.5 h ago, response times hour by hour. */
export function sampleHistory(): HistoryView {
  const from = NOW - 24 * HOUR;
  return {
    uptime: { "24h": 0.98263, "7d": 0.99751, "30d": 0.99942 },
    timeline: {
      from,
      to: NOW,
      segments: [
        { from, to: NOW - 150 * MIN, state: "OK" },
        { from: NOW - 150 * MIN, to: NOW - 125 * MIN, state: "CRITICAL" },
        { from: NOW - 125 * MIN, to: NOW, state: "OK" },
      ],
    },
    response: Array.from({ length: 24 }, (_, i) => ({
      at: from + i * HOUR - (from % HOUR),
      avgMs: 40 + (i % 5) * 3,
      maxMs: i === 21 ? 310 : 60 + (i % 7) * 4,
      runs: 60,
      ok: i === 21 || i === 22 ? 48 : 60,
    })),
  };
}

/** The per-check page of the sample's www.example.com https. */
export function sampleCheckPage(): CheckPageView {
  const view = sampleView();
  const check = view.checks[0]!;
  const DAY = 24 * HOUR;
  const today = NOW - (NOW % DAY);
  return {
    node: view.node,
    version: view.version,
    generatedAt: NOW,
    check: {
      ...check,
      perfdata: [{
        label: "time",
        value: 0.041,
        unit: "s",
        warn: "1",
        crit: "5",
        min: 0,
        max: null,
      }],
    },
    days: Array.from({ length: 30 }, (_, i) => ({
      day: today - (29 - i) * DAY,
      runs: i < 3 ? 0 : 1440,
      ok: i < 3 ? 0 : i === 29 ? 1415 : 1440,
      avgMs: i < 3 ? null : 42,
    })),
    changes: [
      { at: NOW - 125 * MIN, status: "OK", state: "OK", output: "HTTP 200 in 44 ms" },
      {
        at: NOW - 150 * MIN,
        status: "FAIL",
        state: "CRITICAL",
        output: "HTTP 503 Service Unavailable",
      },
    ],
    runs: [0, 1, 2].map((i) => ({
      at: NOW - 20_000 - i * MIN,
      status: "OK",
      state: "OK",
      output: "HTTP 200 in 41 ms",
      durationMs: 41 + i,
      perfdata: [{
        label: "time",
        value: (41 + i) / 1000,
        unit: "s",
        warn: "1",
        crit: "5",
        min: 0,
        max: null,
      }],
    })),
    incidents: [{
      id: "beta-1732170000000",
      state: "closed",
      startedAt: NOW - 150 * MIN,
      endedAt: NOW - 125 * MIN,
      votes: [
        { node: "alpha", status: "FAIL", output: "HTTP 503", at: NOW - 149 * MIN },
        {
          node: "beta",
          status: "FAIL",
          output: "HTTP 503 Service Unavailable",
          at: NOW - 149 * MIN,
        },
      ],
      notices: [{
        kind: "down",
        recipient: "email:ops@example.com",
        state: "delivered",
        at: NOW - 148 * MIN,
        nextAt: null,
        by: "beta",
        attempts: 1,
        lastError: null,
      }],
    }],
  };
}
