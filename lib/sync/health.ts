/**
 * "Site unreachable": a pure decision from a site's pull history and `now`, and the notifications
 * it produces. The incident id is derived from when the site was last reached, so every decision
 * about the same outage (after a restart, from `--once` runs) names the same incident.
 * @module
 */
import type { Notification } from "../quorum/types.ts";

export interface SiteHealth {
  /** Last successful pull; null if never. */
  lastSuccess: number | null;
  /** When the central first knew of the site (starts the clock for a site never reached). */
  firstSeen: number;
  /** The open unreachable incident, or null. */
  unreachable: { id: string; since: number } | null;
}

export type HealthAction =
  | { action: "none" }
  | { action: "down"; id: string; since: number }
  | { action: "recovered"; id: string; since: number };

/** The incident id of an outage of `site` that began at `since` (its last successful contact). */
export function unreachableId(site: string, since: number): string {
  return `sync/${site}/unreachable/${since}`;
}

/**
 * What to do after an attempt (`reached`: whether it succeeded): raise the incident once the site
 * has not been reached for `afterMs`, recover it on the first success, else nothing.
 * @example decideHealth({ lastSuccess: 0, firstSeen: 0, unreachable: null }, false, 600_000, 600_000)
 * // { action: "down", id: "sync/<site>/unreachable/0", since: 0 } (with the site's name)
 */
export function decideHealth(
  site: string,
  h: SiteHealth,
  reached: boolean,
  now: number,
  afterMs: number,
): HealthAction {
  if (reached) {
    return h.unreachable
      ? { action: "recovered", id: h.unreachable.id, since: h.unreachable.since }
      : { action: "none" };
  }
  if (h.unreachable) return { action: "none" };
  const since = h.lastSuccess ?? h.firstSeen;
  if (now - since < afterMs) return { action: "none" };
  return { action: "down", id: unreachableId(site, since), since };
}

/** The notification of an unreachable incident (down or recovered), as the alerts part takes it. */
export function unreachableNotification(opts: {
  site: string;
  address: string;
  kind: "down" | "recovered";
  id: string;
  since: number;
  now: number;
  node: string;
  detail: string;
}): Notification {
  return {
    id: `${opts.id}/${opts.kind}`,
    kind: opts.kind,
    incidentId: opts.id,
    host: opts.address,
    test: "sync",
    startedAt: opts.since,
    endedAt: opts.kind === "recovered" ? opts.now : null,
    votes: [{
      node: opts.node,
      status: opts.kind === "down" ? "FAIL" : "OK",
      output: opts.detail,
      at: opts.now,
    }],
    nodesTotal: 1,
    notifier: opts.node,
    site: opts.site,
  };
}
