/**
 * Site incidents as the central node sees them: reading our incidents module back into
 * notifications, scoping their ids by site, and the small parsers ingest needs. Pure.
 * @module
 */
import type { Notification } from "../quorum/types.ts";
import { INCIDENTS_FORMAT } from "../spool/agent_xml.ts";

/** Reminder number of a quorum notification id (`<incident>/reminder/<n>`), else 0. */
export function noticeSeq(n: Pick<Notification, "id" | "kind">): number {
  const m = n.kind === "reminder" ? /\/reminder\/(\d+)$/.exec(n.id) : null;
  return m ? Number(m[1]) : 0;
}

/** Parses `YYYY/MM/DD HH:MM:SS` (as UTC, which is what we write) to epoch ms, or null. */
export function parsePandoraTime(s: string | undefined): number | null {
  const m = s ? /^(\d{4})[/-](\d\d)[/-](\d\d)[ T](\d\d):(\d\d):(\d\d)$/.exec(s.trim()) : null;
  if (!m) return null;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isFinite(t) ? t : null;
}

/** A site notification as the central node delivers it: ids scoped by site, `site` set. */
export function centralNotification(site: string, n: Notification): Notification {
  return { ...n, id: `site/${site}/${n.id}`, incidentId: `site/${site}/${n.incidentId}`, site };
}

/** Reads the notifications of our incidents module; foreign or malformed content yields none. */
export function readIncidentsModule(data: string): Notification[] {
  let doc: unknown;
  try {
    doc = JSON.parse(data);
  } catch {
    return [];
  }
  const d = doc as { dmonitor?: unknown; notifications?: unknown };
  if (
    typeof doc !== "object" || doc === null || d.dmonitor !== INCIDENTS_FORMAT ||
    !Array.isArray(d.notifications)
  ) return [];
  return d.notifications.filter((n): n is Notification =>
    typeof n === "object" && n !== null && typeof n.id === "string" && n.id !== "" &&
    typeof n.incidentId === "string" && n.incidentId !== "" &&
    ["down", "recovered", "reminder"].includes(n.kind) &&
    typeof n.host === "string" && typeof n.test === "string" && typeof n.startedAt === "number" &&
    Array.isArray(n.votes)
  ).map((n) => ({
    ...n,
    endedAt: typeof n.endedAt === "number" ? n.endedAt : null,
    nodesTotal: typeof n.nodesTotal === "number" ? n.nodesTotal : n.votes.length,
    notifier: typeof n.notifier === "string" ? n.notifier : "",
  }));
}
