/**
 * Sharing sites among central nodes (pure): a node keeps the sites it drains unless it holds more
 * than its share (`ceil(sites / live nodes)`) while another live node holds fewer, then it hands
 * one over (releases its lease; the other takes it at its next try). A free site is always
 * claimed at once, whoever has room, so a dead node's sites are taken over within the lease bound;
 * the next turns even the load out.
 * @module
 */

export type LeaseStep = "claim" | "keep" | "release";

/** The step for one site at this node's turn. */
export function leaseStep(o: {
  /** This node holds the site's lease now. */
  mine: boolean;
  me: string;
  /** Sites configured (every central node has the same `sync:`). */
  sites: number;
  /** Nodes seen alive recently (this one included). */
  live: readonly string[];
  /** Sites each node holds now. */
  held: ReadonlyMap<string, number>;
}): LeaseStep {
  if (!o.mine) return "claim";
  const live = o.live.includes(o.me) ? o.live : [...o.live, o.me];
  const share = Math.ceil(o.sites / live.length);
  const mine = o.held.get(o.me) ?? 0;
  const roomElsewhere = live.some((n) => n !== o.me && (o.held.get(n) ?? 0) < share);
  return mine > share && roomElsewhere ? "release" : "keep";
}
