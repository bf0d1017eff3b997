/**
 * `POST /v1/heartbeat/exchange` (signed): a node sends the last pushes it knows of for some
 * heartbeat tests and gets the receiver's, after the receiver kept whichever is newer. Used to
 * share each push as it arrives and, before a node fails a heartbeat, to ask whether a peer saw a
 * newer one.
 * @module
 */
import { ProtocolError } from "../errors/mod.ts";
import type { Push } from "./judge.ts";

export const EXCHANGE_PATH = "/v1/heartbeat/exchange";
export const MAX_EXCHANGE_ITEMS = 50;
/** Longest message kept from a push body. */
export const MAX_MESSAGE = 200;

const HOST_RE = /^[A-Za-z0-9:][A-Za-z0-9._:-]{0,252}$/;
const TEST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** One item: a host/test and the last push the sender knows of (null: none). */
export interface ExchangeItem {
  host: string;
  test: string;
  push: Push | null;
}

function bad(path: string, v: unknown): never {
  throw new ProtocolError(`'${path}' is malformed, got ${JSON.stringify(v)?.slice(0, 80)}`);
}

function parsePush(v: unknown, host: string, test: string, path: string): Push | null {
  if (v === null) return null;
  const o = v as Record<string, unknown>;
  if (typeof o !== "object" || Array.isArray(o)) bad(path, v);
  if (typeof o.at !== "number" || !Number.isSafeInteger(o.at) || o.at < 0) bad(`${path}.at`, o.at);
  if (typeof o.via !== "string" || !NODE_RE.test(o.via)) bad(`${path}.via`, o.via);
  if (typeof o.message !== "string" || o.message.length > MAX_MESSAGE) {
    bad(`${path}.message`, o.message);
  }
  return { host, test, at: o.at as number, via: o.via as string, message: o.message as string };
}

/** Validates a request body or a reply: `{ items: [{ host, test, push }] }`. */
export function parseExchange(v: unknown): ExchangeItem[] {
  const items = (v as { items?: unknown } | null)?.items;
  if (!Array.isArray(items) || items.length > MAX_EXCHANGE_ITEMS) bad("items", items);
  return (items as unknown[]).map((x, i) => {
    const o = x as Record<string, unknown> | null;
    if (typeof o !== "object" || o === null) bad(`items[${i}]`, x);
    if (typeof o!.host !== "string" || !HOST_RE.test(o!.host)) bad(`items[${i}].host`, o!.host);
    if (typeof o!.test !== "string" || !TEST_RE.test(o!.test)) bad(`items[${i}].test`, o!.test);
    const host = o!.host as string, test = o!.test as string;
    return { host, test, push: parsePush(o!.push ?? null, host, test, `items[${i}].push`) };
  });
}

/** The wire form of items (pushes without their host/test, which the item names). */
export function exchangeBody(items: readonly ExchangeItem[]): { items: unknown[] } {
  return {
    items: items.map((i) => ({
      host: i.host,
      test: i.test,
      push: i.push && { at: i.push.at, via: i.push.via, message: i.push.message },
    })),
  };
}
