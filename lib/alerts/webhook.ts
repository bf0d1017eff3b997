/**
 * The webhook channel: POSTs the `dmonitor.notification/1` document to the URL in
 * `alert.d/<name>.webhook`. Retries are the outbox's: a 5xx, 408, 429 or a network error is tried
 * again with backoff; any other status is final. Redirects are not followed (a POST turned into a
 * GET by a redirect would report success while delivering nothing).
 * @module
 */
import { renderWebhookPayload } from "./payload.ts";
import type { WebhookTarget } from "./settings.ts";
import { type Channel, DeliveryError, type Message } from "./types.ts";
import { deadline } from "../clock/mod.ts";

export interface WebhookChannelOptions {
  webhooks: readonly WebhookTarget[];
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Whether an HTTP status is worth retrying. */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429;
}

/** Splits `user:pass@` out of a URL into a Basic Authorization header (fetch refuses it). */
function credentials(href: string): { url: string; headers: Record<string, string> } {
  const url = new URL(href);
  if (!url.username && !url.password) return { url: href, headers: {} };
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = "";
  url.password = "";
  const basic = btoa(String.fromCharCode(...new TextEncoder().encode(pair)));
  return { url: url.href, headers: { authorization: `Basic ${basic}` } };
}

/** Shows a URL without its credentials or query (tokens often live there), for messages. */
export function redactUrl(href: string): string {
  const url = new URL(href);
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? "?..." : ""}`;
}

/** Reads at most `max` bytes of a response body and drops the rest. */
export async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short still leaves the status, which is what decides.
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
  return new TextDecoder().decode(all.subarray(0, max));
}

/** Creates the webhook channel over the configured `alert.d/<name>.webhook` targets. */
export function createWebhookChannel(o: WebhookChannelOptions): Channel {
  const doFetch = o.fetch ?? fetch;
  return {
    async send(msg: Message, signal: AbortSignal) {
      const hook = o.webhooks.find((w) => w.name === msg.target.name);
      if (!hook) {
        throw new DeliveryError(`webhook '${msg.target.name}' is no longer configured`, true);
      }
      const { url, headers } = credentials(hook.url);
      const shown = `alert.d/${hook.name}.webhook (${redactUrl(hook.url)})`;
      // Disposed when the send is over: its timer goes with it (lib/clock/deadline.ts).
      using limit = deadline(o.timeoutMs ?? 10_000, signal);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: "POST",
          headers: {
            ...headers,
            "content-type": "application/json",
            "user-agent": "dmonitor",
            "idempotency-key": `${msg.notification.id}:${hook.name}`,
          },
          body: JSON.stringify(renderWebhookPayload(msg.notification)),
          redirect: "manual",
          signal: limit.signal,
        });
      } catch (e) {
        throw new DeliveryError(`Cannot POST to ${shown}: ${(e as Error).message}`, false, {
          cause: e,
        });
      }
      const text = (await readCapped(res, 4096)).slice(0, 200).replace(/\s+/g, " ").trim();
      const reply = `HTTP ${res.status}${text ? ` ${text}` : ""}`;
      if (res.ok) return { detail: reply };
      const permanent = !retryableStatus(res.status);
      throw new DeliveryError(`${shown} answered ${reply}`, permanent);
    },
  };
}
