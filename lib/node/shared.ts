/**
 * The glue between the shared records (lib/shared) and the rest of the node: a shared silence as
 * the notifier matches it, and the open incident an acknowledgement is given to. Pure.
 * @module
 */
import type { Silence } from "../alerts/mod.ts";
import type { IncidentState } from "../quorum/types.ts";
import type { SharedSilence } from "../shared/mod.ts";

/** A shared silence as lib/alerts matches it; `file` names it in mute notes and logs. */
export function sharedAsSilence(s: SharedSilence): Silence {
  return {
    host: s.host,
    test: s.test,
    until: s.until,
    reason: s.reason,
    file: `silence ${s.id} (${s.by} on ${s.origin})`,
  };
}

/** The open incident (down or recovering) of host/test among the consensus states, or null. */
export function openIncidentOf(
  states: readonly IncidentState[],
  host: string,
  test: string,
): { id: string } | null {
  const h = host.toLowerCase();
  const s = states.find((x) =>
    x.host.toLowerCase() === h && x.test === test && x.incident !== null &&
    (x.phase === "down" || x.phase === "recovering")
  );
  return s?.incident ? { id: s.incident.id } : null;
}
