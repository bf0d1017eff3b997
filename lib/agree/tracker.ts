/**
 * The running side of configuration agreement: learns each peer's digest from the heartbeat
 * replies, fetches a peer's entries (`GET /v1/config`) only when its digest differs from this
 * node's and from the entries already held, and logs each change once: a peer whose configuration
 * differs (and agrees again), a test that can never be confirmed (and can again). The decisions are
 * the pure functions of digest.ts, diff.ts and reach.ts.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { TreeSummary } from "./digest.ts";
import { describeDiff, diffEntries, type EntryDiff } from "./diff.ts";
import { type NodeTests, type Unconfirmable, unconfirmable } from "./reach.ts";

/** Most differences listed per peer in a view (the count is always complete). */
export const MAX_LISTED = 50;

/** What the views show about one peer's configuration. */
export interface PeerAgreement {
  /** The nodes.txt entry (`host:port`), as the peers list shows it. */
  address: string;
  node: string | null;
  /** Its digest; null while not known (never answered, or a peer without agreement). */
  digest: string | null;
  /** null while not known. */
  agrees: boolean | null;
  /** How many entries differ (0 while the peer's entries are not fetched yet). */
  differenceCount: number;
  /** The first {@link MAX_LISTED} differences: key, change and one line of text. */
  differences: { key: string; change: EntryDiff["change"]; text: string }[];
  /** The last failure to fetch its entries; null when none. */
  error: string | null;
}

export interface AgreementView {
  /** This node's digest. */
  digest: string;
  peers: PeerAgreement[];
  /** Tests too few nodes run to reach the quorum. */
  unconfirmable: Unconfirmable[];
}

export interface TrackerDeps {
  /** This node's summary (cached by the caller per configuration). */
  summary: () => TreeSummary;
  self: () => string;
  /** The peers, in nodes.txt order: the key heartbeat answers name them by (the nodes.txt
   * line), the address shown (`host:port`) and the node name. */
  peers: () => { key: string; address: string; name: string }[];
  /** How many nodes must see a failure. */
  needed: () => number;
  /** `GET /v1/config` of the peer `key`. */
  fetchSummary: (key: string) => Promise<TreeSummary>;
  log: Logger;
  now: () => number;
  /** After a failed fetch, wait this long before the next (default 10 s). */
  retryMs?: number;
}

interface PeerState {
  node: string | null;
  digest: string | null;
  /** The entries fetched last, for the digest they had. */
  detail: TreeSummary | null;
  fetching: boolean;
  failedAt: number;
  error: string | null;
  /** What was logged last: the digest it differed with, or "agrees". */
  logged: string | null;
}

export class AgreementTracker {
  readonly #deps: TrackerDeps;
  readonly #peers = new Map<string, PeerState>();
  #loggedUnconfirmable = new Set<string>();
  #diffCache = new WeakMap<TreeSummary, WeakMap<TreeSummary, EntryDiff[]>>();

  constructor(deps: TrackerDeps) {
    this.#deps = deps;
  }

  #state(key: string): PeerState {
    let s = this.#peers.get(key);
    if (!s) {
      s = {
        node: null,
        digest: null,
        detail: null,
        fetching: false,
        failedAt: -Infinity,
        error: null,
        logged: null,
      };
      this.#peers.set(key, s);
    }
    return s;
  }

  /**
   * A heartbeat round's answers: each peer that answered, with its digest (null: it did not say).
   * Fetches what differs, then logs what changed. Resolves when done; never throws.
   */
  async heard(answers: readonly { key: string; node: string; digest: string | null }[]) {
    const mine = this.#deps.summary();
    const fetches: Promise<void>[] = [];
    for (const a of answers) {
      const s = this.#state(a.key);
      s.node = a.node;
      s.digest = a.digest;
      if (a.digest === null || a.digest === mine.digest) continue;
      if (s.detail?.digest === a.digest || s.fetching) continue;
      if (this.#deps.now() - s.failedAt < (this.#deps.retryMs ?? 10_000)) continue;
      s.fetching = true;
      fetches.push(
        this.#deps.fetchSummary(a.key).then((d) => {
          s.detail = d;
          s.digest = d.digest;
          s.error = null;
        }, (e) => {
          s.failedAt = this.#deps.now();
          s.error = e instanceof Error ? e.message : String(e);
        }).finally(() => s.fetching = false),
      );
    }
    await Promise.all(fetches);
    this.#logChanges();
  }

  #diffs(mine: TreeSummary, theirs: TreeSummary): EntryDiff[] {
    let inner = this.#diffCache.get(mine);
    if (!inner) this.#diffCache.set(mine, inner = new WeakMap());
    let d = inner.get(theirs);
    if (!d) inner.set(theirs, d = diffEntries(mine.entries, theirs.entries));
    return d;
  }

  /** What each node is known to run, this one first. */
  #nodeTests(mine: TreeSummary): NodeTests[] {
    const own = new Set(mine.entries.map((e) => e.key));
    const out: NodeTests[] = [{ node: this.#deps.self(), keys: own }];
    for (const p of this.#deps.peers()) {
      const s = this.#peers.get(p.key);
      const keys = !s || s.digest === null
        ? null
        : s.digest === mine.digest
        ? own
        : s.detail?.digest === s.digest
        ? new Set(s.detail.entries.map((e) => e.key))
        : null;
      out.push({ node: s?.node ?? p.name, keys });
    }
    return out;
  }

  /** The view of every peer and the tests that can never be confirmed, now. */
  view(): AgreementView {
    const mine = this.#deps.summary();
    const self = this.#deps.self();
    const peers = this.#deps.peers().map((p): PeerAgreement => {
      const s = this.#peers.get(p.key);
      const node = s?.node ?? null;
      const base = {
        address: p.address,
        node,
        digest: s?.digest ?? null,
        error: s?.error ?? null,
        differenceCount: 0,
        differences: [],
      };
      if (!s || s.digest === null) return { ...base, agrees: null };
      if (s.digest === mine.digest) return { ...base, agrees: true, error: null };
      const d = s.detail?.digest === s.digest ? this.#diffs(mine, s.detail) : [];
      return {
        ...base,
        agrees: false,
        differenceCount: d.length,
        differences: d.slice(0, MAX_LISTED).map((x) => ({
          key: x.key,
          change: x.change,
          text: describeDiff(x, self, node ?? p.name),
        })),
      };
    });
    return {
      digest: mine.digest,
      peers,
      unconfirmable: unconfirmable(this.#nodeTests(mine), this.#deps.needed()),
    };
  }

  /** Logs each peer's change of agreement and each test that became (un)confirmable, once. */
  #logChanges(): void {
    const log = this.#deps.log;
    const v = this.view();
    const keys = this.#deps.peers().map((p) => p.key);
    v.peers.forEach((p, i) => {
      const s = this.#peers.get(keys[i]!);
      if (!s || p.agrees === null) return;
      if (p.agrees) {
        if (s.logged !== null && s.logged !== "agrees") {
          log.info("peer configuration agrees again", { peer: p.address, node: p.node ?? "" });
        }
        s.logged = "agrees";
      } else if (s.logged !== p.digest && (p.differenceCount > 0 || p.error !== null)) {
        s.logged = p.digest;
        log.warn("peer configuration differs", {
          peer: p.address,
          node: p.node ?? "",
          digest: p.digest ?? "",
          ours: v.digest,
          differences: p.differenceCount,
          first: p.differences[0]?.text ?? p.error ?? "",
        });
      }
    });
    const now = new Set<string>();
    let logged = 0;
    for (const u of v.unconfirmable) {
      const key = `${u.host}/${u.test}`;
      now.add(key);
      if (this.#loggedUnconfirmable.has(key)) continue;
      // One line per test, bounded: a whole tree missing on a peer is one more line, not 3,000.
      if (logged < 20) log.warn(u.message, { host: u.host, test: u.test });
      else if (logged === 20) log.warn("more tests can never be confirmed", { see: "status" });
      logged++;
    }
    for (const key of this.#loggedUnconfirmable) {
      if (!now.has(key)) log.info(`${key}: can be confirmed again`);
    }
    this.#loggedUnconfirmable = now;
  }
}
