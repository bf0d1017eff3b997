/**
 * Helpers shared by the peer tests (not part of the public surface).
 * @module
 */
import { memoryLogger } from "../log/mod.ts";
import type { IncidentView, LocalAnswer } from "../quorum/types.ts";
import { createPeerApp, type PeerAppDeps } from "./app.ts";
import { importPeerKey, signRequest } from "./auth.ts";

export const KEY = "test-peer-key-0123456789abcdef-0123456789";
export const NOW = 1_700_000_000_000;

let counter = 0;
/** A unique, valid nonce. */
export function nonce(): string {
  return (++counter).toString(16).padStart(32, "0");
}

/** A RequestInit signed like a peer would sign it. */
export async function signedInit(
  method: "GET" | "POST",
  path: string,
  payload: unknown,
  o: { key?: string; node?: string; to?: string; now?: number; nonce?: string } = {},
): Promise<RequestInit> {
  const body = payload === undefined
    ? new Uint8Array()
    : new TextEncoder().encode(JSON.stringify(payload));
  const headers = await signRequest(await importPeerKey(o.key ?? KEY), {
    method,
    path,
    node: o.node ?? "node-a",
    to: o.to ?? "node-b",
    body,
    now: o.now ?? NOW,
    nonce: o.nonce ?? nonce(),
  });
  return { method, headers, body: method === "POST" ? body : undefined };
}

/** An app for node-b that knows www/http, with recorded calls and a memory log. */
export function testApp(over: Partial<PeerAppDeps> = {}) {
  const log = memoryLogger();
  const heard: { from: string; view: IncidentView }[] = [];
  const answer: LocalAnswer = {
    status: "FAIL",
    output: "connection refused",
    at: NOW - 1000,
    incident: null,
  };
  const app = createPeerApp({
    nodeName: "node-b",
    key: KEY,
    peers: () => ["node-a", "node-c"],
    log,
    clock: () => NOW,
    confirm: (host, test) => Promise.resolve(host === "www" && test === "http" ? answer : null),
    view: (host, test) => (host === "www" && test === "http" ? answer : null),
    hear: (host, test, from, view) => {
      heard.push({ from, view });
      return Promise.resolve(host === "www" && test === "http");
    },
    state: () => ({ incidents: [] }),
    ...over,
  });
  return { app, log, heard };
}
