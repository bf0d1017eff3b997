/**
 * How far each peer's clock is from this node's, from the timestamps peers already sign into
 * every request (`x-dmonitor-timestamp`, checked by lib/peers/auth.ts): sender time minus
 * receive time is the offset minus the one-way delay, and a delay only ever lowers it, so the
 * largest sample of the last minute is the best estimate. Peers ping every 2 s, so it stays
 * fresh. The maximum also shrugs off a replayed request (refused, but authentic): its timestamp is
 * old, so its sample is lower than the genuine ones. Silences end by wall clock on every node: clocks more than {@link CLOCK_SKEW_LIMIT_MS}
 * apart are a problem the views show.
 * @module
 */

/** Clocks further apart than this are shown as a problem. */
export const CLOCK_SKEW_LIMIT_MS = 5_000;
/** Samples older than this are forgotten. */
export const SKEW_WINDOW_MS = 60_000;
const MAX_SAMPLES = 64;

export interface ClockOffset {
  /** Peer clock minus ours, ms (positive: the peer is ahead). */
  offsetMs: number;
  /** When the last sample was taken (our clock). */
  at: number;
}

/** Per peer node name, recent samples; pure apart from the map it keeps. */
export class ClockSkew {
  readonly #samples = new Map<string, { at: number; offset: number }[]>();

  /** Records that `peer` sent a request stamped `sentAt` that arrived at `now`. */
  observe(peer: string, sentAt: number, now: number): void {
    const list = this.#samples.get(peer) ?? [];
    list.push({ at: now, offset: sentAt - now });
    while (list.length > MAX_SAMPLES || (list.length > 0 && list[0]!.at < now - SKEW_WINDOW_MS)) {
      list.shift();
    }
    this.#samples.set(peer, list);
  }

  /** The estimate for `peer` at `now`, or null without a recent sample. */
  offset(peer: string, now: number): ClockOffset | null {
    const list = (this.#samples.get(peer) ?? []).filter((s) => s.at >= now - SKEW_WINDOW_MS);
    if (list.length === 0) return null;
    return { offsetMs: Math.max(...list.map((s) => s.offset)), at: list.at(-1)!.at };
  }
}

/** The problem line for an offset, or null when the clocks agree closely enough. */
export function skewProblem(peer: string, offsetMs: number): string | null {
  if (Math.abs(offsetMs) <= CLOCK_SKEW_LIMIT_MS) return null;
  const s = (Math.abs(offsetMs) / 1000).toFixed(1);
  return `clock of ${peer} is ${s} s ${offsetMs > 0 ? "ahead of" : "behind"} this node's ` +
    `(more than ${CLOCK_SKEW_LIMIT_MS / 1000} s): silences end at different times on each, ` +
    `and beyond 30 s their requests are refused; check NTP on both`;
}
