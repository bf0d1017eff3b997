/**
 * The shell around the shared records: what the CLI's requests do on this node (add or remove a
 * silence, acknowledge an incident), pushing each change to every peer at once over the signed
 * peer API, and the anti-entropy loop that makes a node that was down or cut off catch up: every
 * {@link SYNC_MS} it sends each peer its digest, and pulls the peer's records when they differ.
 * Time and the peer transport are injected.
 * @module
 */
import type { Peer } from "../config/types.ts";
import type { Logger } from "../log/mod.ts";
import { type Clock, systemClock } from "../clock/mod.ts";
import { callPeer, importPeerKey, peerLabel, peerName } from "../peers/mod.ts";
import { ClockSkew } from "./clock_skew.ts";
import {
  liveSilences,
  MAX_BY,
  MAX_REASON,
  MAX_SILENCE_MS,
  parseRecords,
  validTarget,
} from "./merge.ts";
import { SharedStore } from "./store.ts";
import { recordKey, type SharedAck, type SharedRecord, type SharedSilence } from "./types.ts";

/** Period of the anti-entropy exchange with each peer. */
export const SYNC_MS = 3_000;
/** Deadline of one push or digest exchange. */
export const PUSH_DEADLINE_MS = 2_000;
/** Largest pull reply accepted (MAX_RECORDS records of the largest size). */
export const MAX_PULL_BYTES = 8 * 1024 * 1024;

/** A request the local API refuses: `status` is the HTTP status, the message is for the user. */
export class SharedRequestError extends Error {
  override name = "SharedRequestError";
  constructor(readonly status: 400 | 404 | 409, message: string) {
    super(message);
  }
}

/** What became of a change sent to one peer. */
export interface Delivery {
  peer: string;
  ok: boolean;
  error: string | null;
}

/** What one peer's anti-entropy exchange last did. */
export interface SyncState {
  lastOkAt: number | null;
  lastError: string | null;
  /** Whether the last digests compared equal. */
  inSync: boolean | null;
}

export interface SharedDeps {
  store: SharedStore;
  nodeName: () => string;
  peers: () => readonly Peer[];
  key: () => string | null;
  log: Logger;
  clock?: Clock;
  tls?: { client?: Deno.HttpClient };
  /** Transport (tests); default the real fetch. */
  fetch?: typeof fetch;
}

/** The open incident of host/test on this node, for an acknowledgement. */
export type OpenIncidentOf = (host: string, test: string) => { id: string } | null;

export class SharedState {
  readonly store: SharedStore;
  readonly skew = new ClockSkew();
  readonly #deps: SharedDeps;
  readonly #clock: Clock;
  readonly #sync = new Map<string, SyncState>();
  #keys = new Map<string, Promise<CryptoKey>>();

  constructor(deps: SharedDeps) {
    this.#deps = deps;
    this.store = deps.store;
    this.#clock = deps.clock ?? systemClock;
  }

  /** Silences in force now, for the notifier and the views. */
  silences(): SharedSilence[] {
    return liveSilences(this.store.all(), this.#clock.now());
  }

  /** The acknowledgement of an incident, if any. */
  ackOf(incidentId: string): SharedAck | null {
    const r = this.store.get(recordKey({ kind: "ack", id: incidentId }));
    return r?.kind === "ack" ? r : null;
  }

  syncState(): Map<string, SyncState> {
    return new Map(this.#sync);
  }

  /** `dmonitor silence add`: validates, stores, sends to every peer. */
  async addSilence(
    i: { host: string; test: string | null; until: number; reason: string; by: string },
  ): Promise<{ silence: SharedSilence; sent: Delivery[] }> {
    const now = this.#clock.now();
    const host = i.host.toLowerCase();
    if (!validTarget(host, i.test)) {
      throw new SharedRequestError(
        400,
        `HOST[/TEST] must be a host name and optionally a test name, got ${
          JSON.stringify(i.test === null ? i.host : `${i.host}/${i.test}`)
        }`,
      );
    }
    if (!Number.isSafeInteger(i.until) || i.until <= now) {
      throw new SharedRequestError(
        400,
        `the end must be in the future, got ${new Date(i.until).toISOString()} (now ${
          new Date(now).toISOString()
        } on node ${this.#deps.nodeName()})`,
      );
    }
    if (i.until - now > MAX_SILENCE_MS) {
      throw new SharedRequestError(400, "a silence may last at most 366 days");
    }
    const reason = checkText(i.reason, "--reason", MAX_REASON);
    const by = checkText(i.by, "the user name", MAX_BY);
    const id = [...crypto.getRandomValues(new Uint8Array(6))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const silence: SharedSilence = {
      kind: "silence",
      id,
      host,
      test: i.test,
      until: i.until,
      reason,
      by,
      origin: this.#deps.nodeName(),
      createdAt: now,
      removed: null,
    };
    this.store.merge([silence], now);
    this.#deps.log.info("silence added", { id, host, test: i.test ?? "*", by, until: i.until });
    return { silence, sent: await this.push([silence]) };
  }

  /** `dmonitor silence remove`: a tombstone, stored and sent to every peer. */
  async removeSilence(
    id: string,
    by: string,
  ): Promise<{ silence: SharedSilence; sent: Delivery[] }> {
    const now = this.#clock.now();
    const r = this.store.get(recordKey({ kind: "silence", id }));
    if (r === undefined || r.kind !== "silence") {
      throw new SharedRequestError(
        404,
        `no shared silence ${JSON.stringify(id)} on node ${this.#deps.nodeName()} ` +
          "(see 'dmonitor silence list'; a silence.d/ file is removed by deleting the file)",
      );
    }
    if (r.removed !== null) {
      throw new SharedRequestError(
        409,
        `silence ${id} was already removed by ${r.removed.by} on ${r.removed.origin} at ${
          new Date(r.removed.at).toISOString()
        }`,
      );
    }
    const tomb: SharedSilence = {
      ...r,
      removed: {
        at: now,
        by: checkText(by, "the user name", MAX_BY),
        origin: this.#deps.nodeName(),
      },
    };
    this.store.merge([tomb], now);
    this.#deps.log.info("silence removed", { id, by });
    return { silence: tomb, sent: await this.push([tomb]) };
  }

  /** `dmonitor ack`: acknowledges the open incident of host/test on every node. */
  async ack(
    i: { host: string; test: string; reason: string; by: string },
    openIncident: OpenIncidentOf,
  ): Promise<{ ack: SharedAck; sent: Delivery[] }> {
    const now = this.#clock.now();
    const host = i.host.toLowerCase();
    if (!validTarget(host, i.test)) {
      throw new SharedRequestError(
        400,
        `HOST/TEST must be a host and a test name, got ${JSON.stringify(`${i.host}/${i.test}`)}`,
      );
    }
    const inc = openIncident(host, i.test);
    if (inc === null) {
      throw new SharedRequestError(
        404,
        `no open incident for ${host}/${i.test} on node ${this.#deps.nodeName()} ` +
          "(only a confirmed outage can be acknowledged; see 'dmonitor status')",
      );
    }
    const ack: SharedAck = {
      kind: "ack",
      id: inc.id,
      host,
      test: i.test,
      by: checkText(i.by, "the user name", MAX_BY),
      origin: this.#deps.nodeName(),
      at: now,
      reason: checkText(i.reason, "--reason", MAX_REASON),
    };
    this.store.merge([ack], now);
    this.#deps.log.info("incident acknowledged", {
      incident: inc.id,
      host,
      test: i.test,
      by: ack.by,
    });
    return { ack, sent: await this.push([ack]) };
  }

  // ---- The peer side (lib/shared/peer_routes.ts calls these) ----

  /** A peer pushed records: merged and stored; returns how many changed here. */
  received(from: string, records: readonly SharedRecord[]): number {
    const { changed, refused } = this.store.merge(records, this.#clock.now());
    for (const r of changed) {
      this.#deps.log.info(
        r.kind === "ack"
          ? "acknowledgement received"
          : r.removed
          ? "silence removal received"
          : "silence received",
        { from, id: r.id, host: r.host, test: r.test ?? "*" },
      );
    }
    if (refused > 0) {
      this.#deps.log.warn("shared records refused: this node holds the most it keeps", {
        from,
        refused,
      });
    }
    return changed.length;
  }

  /** A peer sent its digest: when it differs, pull from that peer soon (it may have news). */
  heardDigest(from: string, theirs: string): void {
    if (theirs === this.store.digest()) return;
    const peer = this.#deps.peers().find((p) => peerName(p) === from);
    if (peer) void this.#exchange(peer).catch(() => {});
  }

  // ---- The client side ----

  async #key(): Promise<CryptoKey | null> {
    const k = this.#deps.key();
    if (k === null) return null;
    let p = this.#keys.get(k);
    if (!p) {
      p = importPeerKey(k);
      this.#keys = new Map([[k, p]]);
    }
    return await p;
  }

  async #call(peer: Peer, path: string, payload: unknown, maxReplyBytes = 64 * 1024) {
    const cryptoKey = await this.#key();
    if (cryptoKey === null) throw new Error("this node has no peer.key");
    return await callPeer(peer, "POST", path, payload, {
      key: cryptoKey,
      cryptoKey,
      nodeName: this.#deps.nodeName(),
      deadlineMs: PUSH_DEADLINE_MS,
      clock: () => this.#clock.now(),
      maxReplyBytes,
      ...(this.#deps.tls ? { tls: true, client: this.#deps.tls.client } : {}),
      ...(this.#deps.fetch ? { fetch: this.#deps.fetch } : {}),
    });
  }

  /** Sends records to every peer at once; a peer that misses them catches up by anti-entropy. */
  async push(records: readonly SharedRecord[]): Promise<Delivery[]> {
    return await Promise.all(
      this.#deps.peers().map(async (peer): Promise<Delivery> => {
        const label = peerName(peer);
        try {
          await this.#call(peer, "/v1/shared/push", { records });
          return { peer: label, ok: true, error: null };
        } catch (e) {
          return { peer: label, ok: false, error: (e as Error).message };
        }
      }),
    );
  }

  /** One anti-entropy exchange with one peer: digests, then a pull when they differ. */
  async #exchange(peer: Peer): Promise<void> {
    const label = peerLabel(peer);
    const old = this.#sync.get(label) ?? { lastOkAt: null, lastError: null, inSync: null };
    try {
      const { json } = await this.#call(peer, "/v1/shared/digest", { digest: this.store.digest() });
      const theirs = (json as { digest?: unknown } | null)?.digest;
      if (typeof theirs !== "string") throw new Error("digest reply without a digest");
      let inSync = theirs === this.store.digest();
      if (!inSync) {
        const pulled = await this.#call(peer, "/v1/shared/pull", {}, MAX_PULL_BYTES);
        const records = parseRecords((pulled.json as { records?: unknown })?.records, "records");
        const n = this.received(peerName(peer), records);
        inSync = theirs === this.store.digest();
        if (n > 0) this.#deps.log.debug("shared records pulled", { peer: label, changed: n });
      }
      if (old.lastError !== null) {
        this.#deps.log.info("shared state exchange works again", { peer: label });
      }
      this.#sync.set(label, { lastOkAt: this.#clock.now(), lastError: null, inSync });
    } catch (e) {
      const why = (e as Error).message;
      if (old.lastError === null) {
        this.#deps.log.debug("shared state exchange failed", { peer: label, error: why });
      }
      this.#sync.set(label, { ...old, lastError: why });
    }
  }

  /** One round: obsolete records pruned, then one exchange with every peer at once. */
  async syncOnce(): Promise<void> {
    this.store.prune(this.#clock.now());
    if (this.#deps.key() === null) return;
    await Promise.all(this.#deps.peers().map((p) => this.#exchange(p)));
  }

  /** Runs {@link syncOnce} every {@link SYNC_MS} until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.syncOnce();
      await this.#clock.sleep(SYNC_MS, signal);
    }
  }
}

function checkText(v: string, what: string, max: number): string {
  if (v.length > max) {
    throw new SharedRequestError(400, `${what} must be at most ${max} characters, got ${v.length}`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(v)) {
    throw new SharedRequestError(400, `${what} must not hold control characters (newlines, tabs)`);
  }
  return v;
}
