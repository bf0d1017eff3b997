/**
 * The Alertmanager channel: posts a confirmed outage to `/api/v2/alerts` of every URL in
 * `alert.d/<name>.alertmanager`, as Prometheus does (every URL of an HA pair gets every post; the
 * post counts as delivered when at least one accepted it). The alert is built purely by
 * {@link renderAlertmanagerAlert}; its labels depend only on the outage (never on the node), so
 * the posts of different nodes and the re-posts after a hand-over are one alert to Alertmanager.
 * @module
 */
import { renderWebhookPayload } from "./payload.ts";
import { renderSubject } from "./render.ts";
import type { AlertmanagerTarget } from "./settings.ts";
import { type Channel, type Clock, type Deliverable, DeliveryError, realClock } from "./types.ts";
import { readCapped, redactUrl, retryableStatus } from "./webhook.ts";
import { deadline } from "../clock/mod.ts";

/** How often an open outage is posted again (Prometheus' resend delay). */
export const REPOST_MS = 60_000;
/** How far ahead of now a firing alert's `endsAt` is: 4 re-post intervals, as Prometheus sets
 * it, so Alertmanager resolves it by itself only when the re-posts have stopped for 4 minutes. */
export const FIRING_FOR_MS = 4 * REPOST_MS;

/** One element of the JSON array `POST /api/v2/alerts` takes (Alertmanager's `postableAlert`). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** An annotation name from a node name: Alertmanager accepts `[a-zA-Z_][a-zA-Z0-9_]*` only. */
export function annotationName(prefix: string, node: string): string {
  return `${prefix}_${node.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/**
 * The labels of a notification: the identity of the outage, the same on every node and in every
 * post (down, re-posts, recovery), so Alertmanager folds them into one alert.
 */
export function alertLabels(n: Deliverable): Record<string, string> {
  const labels: Record<string, string> = {
    alertname: n.kind === "test" ? "dmonitor_test" : "dmonitor_down",
    host: n.host,
    test: n.test,
  };
  if (n.site !== null) labels.site = n.site;
  labels.severity = n.kind === "test" ? "none" : "critical";
  return labels;
}

/**
 * The alert for a notification at `now`: firing (`endsAt` = now + {@link FIRING_FOR_MS}) for a
 * down, a reminder, a re-post or a test; ended (`endsAt` = recovery time) for a recovery, or for
 * anything when `endedAt` is given.
 */
export function renderAlertmanagerAlert(
  n: Deliverable,
  now: number,
  opts: { endedAt?: number | null; firingForMs?: number } = {},
): AlertmanagerAlert {
  const ended = opts.endedAt ?? (n.kind === "recovered" ? n.endedAt ?? now : null);
  const payload = renderWebhookPayload(n);
  const annotations: Record<string, string> = {
    summary: renderSubject(n),
    description: payload.text
      .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"),
    incident_id: n.incidentId,
    notifier: n.notifier,
  };
  for (const v of n.votes) {
    annotations[annotationName("output", v.node)] = `${v.status} ${v.output}`.trim();
  }
  return {
    labels: alertLabels(n),
    annotations,
    startsAt: new Date(n.startedAt).toISOString(),
    endsAt: new Date(ended ?? now + (opts.firingForMs ?? FIRING_FOR_MS)).toISOString(),
  };
}

export interface AlertmanagerChannelOptions {
  alertmanagers: readonly AlertmanagerTarget[];
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  clock?: Clock;
}

/** The Alertmanager channel; {@link AlertmanagerChannel.post} also serves re-posts. */
export interface AlertmanagerChannel extends Channel {
  /** Posts `alert` to every URL of `name`; resolves with a receipt when at least one accepted. */
  post(name: string, alert: AlertmanagerAlert, signal: AbortSignal): Promise<{ detail: string }>;
}

/** Creates the channel over the configured `alert.d/<name>.alertmanager` targets. */
export function createAlertmanagerChannel(o: AlertmanagerChannelOptions): AlertmanagerChannel {
  const doFetch = o.fetch ?? fetch;
  const clock = o.clock ?? realClock;
  const postOne = async (
    base: string,
    body: string,
    signal: AbortSignal,
  ): Promise<{ ok: boolean; permanent: boolean; detail: string }> => {
    const shown = redactUrl(base);
    using limit = deadline(o.timeoutMs ?? 10_000, signal);
    try {
      const res = await doFetch(new URL("api/v2/alerts", base).href, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "dmonitor" },
        body,
        redirect: "manual",
        signal: limit.signal,
      });
      const text = (await readCapped(res, 4096)).slice(0, 200).replace(/\s+/g, " ").trim();
      const reply = `${shown}: HTTP ${res.status}${text ? ` ${text}` : ""}`;
      return { ok: res.ok, permanent: !res.ok && !retryableStatus(res.status), detail: reply };
    } catch (e) {
      return { ok: false, permanent: false, detail: `${shown}: ${(e as Error).message}` };
    }
  };
  const post: AlertmanagerChannel["post"] = async (name, alert, signal) => {
    const am = o.alertmanagers.find((a) => a.name === name);
    if (!am) throw new DeliveryError(`alertmanager '${name}' is no longer configured`, true);
    const body = JSON.stringify([alert]);
    const results = await Promise.all(am.urls.map((u) => postOne(u, body, signal)));
    const accepted = results.filter((r) => r.ok).length;
    const detail = `${accepted} of ${results.length} accepted: ` +
      results.map((r) => r.detail).join("; ");
    if (accepted > 0) return { detail };
    // Retried unless every Alertmanager refused the alert itself (a 4xx: it will not change).
    throw new DeliveryError(
      `alert.d/${name}.alertmanager: ${detail}`,
      results.every((r) => r.permanent),
    );
  };
  return {
    post,
    async send(msg, signal) {
      const now = clock.now();
      if (msg.notification.kind !== "test") {
        return await post(msg.target.name, renderAlertmanagerAlert(msg.notification, now), signal);
      }
      // A test shows that Alertmanager takes our posts without paging anybody: it is ended at once.
      const fired = await post(
        msg.target.name,
        renderAlertmanagerAlert(msg.notification, now),
        signal,
      );
      const ended = renderAlertmanagerAlert(msg.notification, now, { endedAt: clock.now() });
      const resolved = await post(msg.target.name, ended, signal);
      return { detail: `posted ${fired.detail}; resolved ${resolved.detail}` };
    },
  };
}
