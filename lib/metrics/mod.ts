/**
 * Prometheus metrics: a small registry in the text format (0.0.4) and the well-known counters
 * every part increments.
 * @example
 * ```ts
 * import { METRICS } from "./lib/metrics/mod.ts";
 * METRICS.pluginTimeouts.inc({ test: "http" });
 * ```
 * @module
 */
export {
  type Family,
  type Labels,
  Metric,
  METRICS,
  type MetricType,
  REGISTRY,
  Registry,
  renderChunks,
  renderFamilies,
  SAMPLES_PER_CHUNK,
} from "./registry.ts";
