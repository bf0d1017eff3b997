/**
 * A small metrics registry rendered in the Prometheus text format (version 0.0.4). Parts of
 * dmonitor increment the well-known counters in {@link METRICS}; the status part adds gauges
 * computed from the status view at scrape time.
 *
 * @example
 * ```ts
 * import { METRICS } from "./lib/metrics/mod.ts";
 * METRICS.pluginTimeouts.inc({ test: "http" });
 * ```
 * @module
 */

export type Labels = Record<string, string>;
export type MetricType = "counter" | "gauge";

/** One metric family: name, help, type and its samples. */
export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: { labels: Labels; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function key(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A metric whose samples are kept in memory, keyed by label set. */
export class Metric {
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[] = [],
  ) {
    if (!NAME.test(name)) throw new Error(`Invalid metric name ${JSON.stringify(name)}`);
    if (type === "counter" && !name.endsWith("_total")) {
      throw new Error(`Counter ${name} must end in _total`);
    }
    for (const l of labelNames) {
      if (!LABEL.test(l)) throw new Error(`Invalid label name ${JSON.stringify(l)} on ${name}`);
    }
  }

  /** The label names, sorted and joined, as #check compares them (computed once). */
  #expected: string | null = null;

  #check(labels: Labels): void {
    const got = Object.keys(labels).sort().join(",");
    this.#expected ??= [...this.labelNames].sort().join(",");
    if (got !== this.#expected) {
      throw new Error(`${this.name} takes labels {${this.labelNames.join(",")}}, got {${got}}`);
    }
  }

  /** Adds `n` (default 1; counters refuse negative steps). */
  inc(labels: Labels = {}, n = 1): void {
    if (this.type === "counter" && n < 0) throw new Error(`Counter ${this.name} cannot decrease`);
    this.#check(labels);
    const k = key(labels);
    const cur = this.#values.get(k);
    if (cur) cur.value += n;
    else this.#values.set(k, { labels: { ...labels }, value: n });
  }

  /** Sets a gauge. */
  set(labels: Labels, value: number): void {
    if (this.type !== "gauge") throw new Error(`${this.name} is a counter; use inc()`);
    this.#check(labels);
    this.#values.set(key(labels), { labels: { ...labels }, value });
  }

  /** The current value for `labels` (0 when never touched). */
  get(labels: Labels = {}): number {
    return this.#values.get(key(labels))?.value ?? 0;
  }

  family(): Family {
    const samples = [...this.#values.values()].map((s) => ({
      labels: { ...s.labels },
      value: s.value,
    }));
    // A family without labels is always exposed, as 0 until something counts.
    if (samples.length === 0 && this.labelNames.length === 0) {
      samples.push({ labels: {}, value: 0 });
    }
    return { name: this.name, help: this.help, type: this.type, samples };
  }
}

/** Metrics by name; `collectors` add families computed at scrape time. */
export class Registry {
  readonly #metrics = new Map<string, Metric>();
  readonly #collectors: (() => Family[])[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Metric {
    return this.#add(new Metric(name, help, "counter", labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Metric {
    return this.#add(new Metric(name, help, "gauge", labelNames));
  }

  /** Adds families computed on every scrape (e.g. from the status view). */
  collect(fn: () => Family[]): void {
    this.#collectors.push(fn);
  }

  #add(m: Metric): Metric {
    if (this.#metrics.has(m.name)) throw new Error(`Metric ${m.name} is registered twice`);
    this.#metrics.set(m.name, m);
    return m;
  }

  /** Every family: registered metrics first, then collected ones. */
  families(): Family[] {
    const out = [...this.#metrics.values()].map((m) => m.family());
    for (const c of this.#collectors) out.push(...c());
    return out;
  }

  /** The Prometheus text exposition of every family. */
  render(extra: Family[] = []): string {
    return renderFamilies([...this.families(), ...extra]);
  }

  /** {@link render} in chunks (see {@link renderChunks}). */
  renderChunks(extra: Family[] = [], perChunk = SAMPLES_PER_CHUNK): Generator<string> {
    return renderChunks([...this.families(), ...extra], perChunk);
  }
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(v: string): string {
  // Most values (host names, test names, states) need no escaping: one test, not three replaces.
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** How many samples {@link renderChunks} puts in one chunk (some 70 KiB of text). */
export const SAMPLES_PER_CHUNK = 1000;

/**
 * The Prometheus text format of `families` in chunks of about `perChunk` samples, so that a
 * caller can hand the event loop back between them: 3,000 checks are some 57,000 samples, 4 MB
 * of text, 54 ms of rendering in one piece (bench/metrics_render.ts). Families sharing a name
 * are merged (a family's samples stay together, as the format requires).
 */
export function* renderChunks(families: Family[], perChunk = SAMPLES_PER_CHUNK): Generator<string> {
  const merged = new Map<string, Family[]>();
  for (const f of families) {
    const have = merged.get(f.name);
    if (have) have.push(f);
    else merged.set(f.name, [f]);
  }
  let out = "";
  let n = 0;
  for (const parts of merged.values()) {
    const f = parts[0]!;
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const part of parts) {
      for (const s of part.samples) {
        let ls = "";
        for (const k in s.labels) {
          ls += `${ls === "" ? "" : ","}${k}="${escapeLabel(s.labels[k]!)}"`;
        }
        out += ls === ""
          ? `${f.name} ${formatValue(s.value)}\n`
          : `${f.name}{${ls}} ${formatValue(s.value)}\n`;
        if (++n >= perChunk) {
          yield out;
          out = "";
          n = 0;
        }
      }
    }
  }
  if (out !== "") yield out;
}

/** Renders families in the Prometheus text format; families sharing a name are merged. */
export function renderFamilies(families: Family[]): string {
  let out = "";
  for (const chunk of renderChunks(families, Infinity)) out += chunk;
  return out;
}

/**
 * The process-wide registry and the counters other parts increment. Until a part is wired in, its
 * counters stay at 0 (labelled ones are simply absent).
 */
export const REGISTRY = new Registry();

export const METRICS = {
  /** Incremented by the plugin runner each time a plugin is killed for its timeout. */
  pluginTimeouts: REGISTRY.counter(
    "dmonitor_plugin_timeouts_total",
    "Checks (plugins and built-ins) stopped because they ran past their timeout, by test.",
    ["test"],
  ),
  /**
   * Incremented by the node each time a check result is recorded, by pass/fail status and by
   * what the check said (OK, WARNING, CRITICAL, UNKNOWN, FAIL, ERROR, TIMEOUT).
   */
  checkRuns: REGISTRY.counter(
    "dmonitor_check_runs_total",
    "Check runs completed, by pass/fail status and by the check's own state.",
    ["status", "state"],
  ),
  /** Incremented by the consensus part for each confirm request it sends, by peer and result. */
  peerRequests: REGISTRY.counter(
    "dmonitor_peer_requests_total",
    "Confirm and state requests sent to peers, by peer and result (ok, error).",
    ["peer", "result"],
  ),
  /** Incremented by the alerts part when a notification is accepted for delivery, by kind. */
  notifications: REGISTRY.counter(
    "dmonitor_notifications_total",
    "Notifications this node queued for delivery, by kind (down, recovered, reminder).",
    ["kind"],
  ),
  /** Incremented by the alerts outbox after each delivery attempt, by result (sent, retry, failed). */
  deliveries: REGISTRY.counter(
    "dmonitor_deliveries_total",
    "Outbox delivery attempts, by result (sent, retry, failed).",
    ["result"],
  ),
  /** Incremented by the Tentacle server for each accepted connection. */
  tentacleConnections: REGISTRY.counter(
    "dmonitor_tentacle_connections_total",
    "Connections accepted by the Tentacle server.",
  ),
  /** Incremented by the Tentacle server per file transferred, by direction (received, sent). */
  tentacleFiles: REGISTRY.counter(
    "dmonitor_tentacle_files_total",
    "Files transferred by the Tentacle server, by direction (received, sent).",
    ["direction"],
  ),
  /** Incremented by the Tentacle server by bytes transferred, by direction. */
  tentacleBytes: REGISTRY.counter(
    "dmonitor_tentacle_bytes_total",
    "Bytes of file data transferred by the Tentacle server, by direction (received, sent).",
    ["direction"],
  ),
  /** Incremented by the Tentacle server for each refused or failed session. */
  tentacleErrors: REGISTRY.counter(
    "dmonitor_tentacle_errors_total",
    "Tentacle sessions that ended in an error (bad password, protocol violation, I/O).",
  ),
  /** Incremented by the sync puller per pull, by site and result (ok, error). */
  syncPulls: REGISTRY.counter(
    "dmonitor_sync_pulls_total",
    "Pulls from remote sites, by site and result (ok, error).",
    ["site", "result"],
  ),
  /** The event loop's own timer (lib/runtime/looplag.ts), set by the daemon on every tick. */
  loopTicks: REGISTRY.counter(
    "dmonitor_event_loop_ticks_total",
    "Ticks of the event-loop lag timer (one every 100 ms when nothing holds the loop).",
  ),
  loopLate: REGISTRY.counter(
    "dmonitor_event_loop_late_ticks_total",
    "Ticks of the event-loop lag timer that fired more than `over` seconds late, by cause: " +
      "all of the lateness (total), or its part that was this node's own work (own), the rest " +
      "being time the thread waited for a CPU.",
    ["over", "cause"],
  ),
  loopCpuWait: REGISTRY.counter(
    "dmonitor_event_loop_cpu_wait_seconds_total",
    "Time the event-loop thread was runnable but waited for a CPU (/proc schedstat).",
  ),
  loopWorst: REGISTRY.gauge(
    "dmonitor_event_loop_lag_worst_seconds",
    "The worst event-loop lag since start, by part: total, or own (less the wait " +
      "for a CPU).",
    ["part"],
  ),
  /** Incremented by the sync puller per file fetched, by site. */
  syncFiles: REGISTRY.counter(
    "dmonitor_sync_files_total",
    "Files pulled from remote sites, by site.",
    ["site"],
  ),
} as const;
