/**
 * The running side of heartbeat tests: records each accepted push, shares it with every peer at
 * once (one exchange per peer, coalesced while one is in flight), answers peers' exchanges, and
 * judges the check, asking the peers for a newer push before it fails. The verdict itself is
 * {@link judgeHeartbeat}.
 * @module
 */
import type { CheckOutcome } from "../checks/types.ts";
import type { TestConfig } from "../config/types.ts";
import type { Logger } from "../log/mod.ts";
import { dueBy, judgeHeartbeat, type Push } from "./judge.ts";
import type { PushStore } from "./store.ts";
import { exchangeBody, type ExchangeItem, parseExchange } from "./wire.ts";

export interface HeartbeatDeps {
  store: PushStore;
  self: () => string;
  /** The heartbeat test configured here for host/test, or undefined. */
  test: (host: string, test: string) => TestConfig | undefined;
  /** The peers' labels (nodes.txt lines). */
  peers: () => string[];
  /** `POST /v1/heartbeat/exchange` to one peer (signed); resolves with its parsed JSON. */
  exchange: (peer: string, body: unknown, deadlineMs: number) => Promise<unknown>;
  log: Logger;
  now: () => number;
}

/** A push stamped further ahead of this node's clock than this is refused (peers' clocks). */
const MAX_AHEAD_MS = 60_000;
const SHARE_DEADLINE_MS = 2_000;

export class HeartbeatService {
  readonly #deps: HeartbeatDeps;
  /** When this node started watching each host/test (the grace before a first push). */
  readonly #watching = new Map<string, number>();
  /** Shares in flight per host/test; `again`: a newer push arrived meanwhile. */
  readonly #sharing = new Map<string, { again: boolean }>();

  constructor(deps: HeartbeatDeps) {
    this.#deps = deps;
  }

  /** Whether host/test is a heartbeat test here. */
  isHeartbeat(host: string, test: string): TestConfig | undefined {
    const t = this.#deps.test(host, test);
    return t && t.executor.kind === "builtin" && t.executor.name === "heartbeat" ? t : undefined;
  }

  /** Records a push this node received and shares it with the peers. */
  received(host: string, test: string, message: string): Push {
    const p: Push = { host, test, at: this.#deps.now(), via: this.#deps.self(), message };
    this.#deps.store.put(p);
    this.#share(host, test);
    return p;
  }

  #share(host: string, test: string): void {
    const key = `${host}\0${test}`;
    const running = this.#sharing.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.#sharing.set(key, state);
    void (async () => {
      try {
        do {
          state.again = false;
          await this.#exchangeAll(host, test, SHARE_DEADLINE_MS);
        } while (state.again);
      } finally {
        this.#sharing.delete(key);
      }
    })();
  }

  /** Sends what this node knows to every peer and keeps any newer push they answer with. */
  async #exchangeAll(host: string, test: string, deadlineMs: number): Promise<void> {
    const push = this.#deps.store.get(host, test);
    const body = exchangeBody([{ host, test, push }]);
    await Promise.all(
      this.#deps.peers().map(async (peer) => {
        try {
          this.merge(parseExchange(await this.#deps.exchange(peer, body, deadlineMs)));
        } catch (e) {
          this.#deps.log.debug("heartbeat exchange failed", {
            peer,
            host,
            test,
            error: e instanceof Error ? e.message : String(e),
          });
        }
      }),
    );
  }

  /**
   * Keeps the newer of each item's push and the one held (only for heartbeat tests configured
   * here; a push stamped too far ahead of this clock is ignored), and answers what is held now.
   */
  merge(items: readonly ExchangeItem[]): ExchangeItem[] {
    const now = this.#deps.now();
    return items.map((it) => {
      if (!this.isHeartbeat(it.host, it.test)) return { host: it.host, test: it.test, push: null };
      if (it.push && it.push.at <= now + MAX_AHEAD_MS) this.#deps.store.put(it.push);
      return { host: it.host, test: it.test, push: this.#deps.store.get(it.host, it.test) };
    });
  }

  /** The signed peer route's handler (`POST /v1/heartbeat/exchange`). */
  handleExchange(body: unknown): Record<string, unknown> {
    return exchangeBody(this.merge(parseExchange(body)));
  }

  /** The check: OK while a push arrived within period + grace; asks the peers before failing. */
  async judge(
    host: string,
    test: string,
    period: number,
    grace: number,
    o: { signal: AbortSignal; timeoutMs: number },
  ): Promise<CheckOutcome> {
    const key = `${host}\0${test}`;
    const { now, store } = this.#deps;
    let since = this.#watching.get(key);
    if (since === undefined) this.#watching.set(key, since = now());
    if (now() > dueBy(store.get(host, test), since, period, grace) && !o.signal.aborted) {
      // A push a peer received may not have reached this node (it was down, or the share was
      // lost): ask before saying it failed, within most of the check's timeout.
      const ms = Math.max(100, Math.min(SHARE_DEADLINE_MS, Math.floor(o.timeoutMs * 0.7)));
      await this.#exchangeAll(host, test, ms);
    }
    return judgeHeartbeat(store.get(host, test), since, period, grace, now());
  }
}
