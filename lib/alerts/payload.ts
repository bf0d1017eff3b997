/**
 * The JSON document POSTed to webhooks and written to alert commands' stdin (schema
 * `dmonitor.notification/1`, documented on {@link WebhookPayload}). Its `text` field makes a
 * Slack or Mattermost incoming-webhook URL work as is.
 * @module
 */
import type { VoteStatus } from "../quorum/types.ts";
import { failingVotes, outageDuration, renderSubject } from "./render.ts";
import type { Deliverable, DeliverableKind } from "./types.ts";

/** One node's result in the payload. */
export interface PayloadVote {
  node: string;
  /** OK, FAIL, TIMEOUT, UNKNOWN (peer lacks the test) or UNREACHABLE (peer did not answer). */
  status: VoteStatus;
  /** The check's output on that node. */
  output: string;
  /** When that node ran the check, ISO 8601 UTC. */
  at: string;
}

/**
 * `dmonitor.notification/1`. Fields are only ever added within one schema version.
 */
export interface WebhookPayload {
  /** Always `dmonitor.notification/1`. */
  schema: "dmonitor.notification/1";
  /** Human summary (Slack `text`, Mattermost `text`): the subject line, then one line per node. */
  text: string;
  /** Notification id: stable; a receiver can use it to drop a retried duplicate. */
  id: string;
  kind: DeliverableKind;
  incident_id: string;
  host: string;
  test: string;
  /** Site of an incident pulled from an isolated network, null for local ones. */
  site: string | null;
  /** The mail subject, e.g. `DOWN www.example.com ssh (confirmed by 2 of 3)`. */
  summary: string;
  /** Outage start, ISO 8601 UTC. */
  started_at: string;
  /** Outage end (recovered only), ISO 8601 UTC, else null. */
  ended_at: string | null;
  /** Whole seconds the outage lasted (recovered) or has lasted so far; 0 for tests. */
  duration_seconds: number;
  /** Nodes that saw the failure (FAIL or TIMEOUT). */
  confirmed_by: number;
  /** Nodes configured in the cluster, counting the notifier. */
  nodes_total: number;
  /** The node that sent this. */
  notifier: string;
  votes: PayloadVote[];
}

/** Slack asks for `&`, `<` and `>` escaped in `text`; Mattermost decodes the same entities. */
function slackEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function oneLine(s: string, max = 300): string {
  // Matching control characters is the point here.
  // deno-lint-ignore no-control-regex
  const flat = s.replace(/[\x00-\x1f\x7f\s]+/g, " ").trim();
  return flat.length > max ? flat.slice(0, max) + "..." : flat;
}

/** Builds the webhook/command document for a notification. */
export function renderWebhookPayload(n: Deliverable): WebhookPayload {
  const summary = renderSubject(n);
  const lines = [summary];
  for (const v of n.votes) lines.push(`${v.node}: ${v.status} ${oneLine(v.output)}`.trimEnd());
  return {
    schema: "dmonitor.notification/1",
    text: slackEscape(lines.join("\n")),
    id: n.id,
    kind: n.kind,
    incident_id: n.incidentId,
    host: n.host,
    test: n.test,
    site: n.site,
    summary,
    started_at: new Date(n.startedAt).toISOString(),
    ended_at: n.endedAt === null ? null : new Date(n.endedAt).toISOString(),
    duration_seconds: n.kind === "test" ? 0 : Math.floor(outageDuration(n) / 1000),
    confirmed_by: failingVotes(n.votes),
    nodes_total: n.nodesTotal,
    notifier: n.notifier,
    votes: n.votes.map((v) => ({
      node: v.node,
      status: v.status,
      output: v.output,
      at: new Date(v.at).toISOString(),
    })),
  };
}
