/**
 * What the nodes of a cluster share about operators' decisions: silences added with
 * `dmonitor silence add` and acknowledgements of open incidents (`dmonitor ack`). Plain JSON,
 * carried on the signed peer API and kept in each node's state database.
 * @module
 */

/** Who removed a silence, where and when (epoch ms on that node's clock). */
export interface Removal {
  at: number;
  by: string;
  origin: string;
}

/** A silence shared by every node; its content never changes, only its removal is added. */
export interface SharedSilence {
  kind: "silence";
  /** 12 hex digits, random on the node that added it. */
  id: string;
  host: string;
  /** null: every test of the host. */
  test: string | null;
  /** Epoch ms (wall clock) it ends. */
  until: number;
  reason: string;
  /** The operator (user name as the CLI reported it). */
  by: string;
  /** The node it was added on. */
  origin: string;
  createdAt: number;
  /** Set once removed: a tombstone, kept (and shared) until the silence would have expired. */
  removed: Removal | null;
}

/** An acknowledgement of one open incident, keyed by the cluster-wide incident id. */
export interface SharedAck {
  kind: "ack";
  /** The incident id (the same on every node). */
  id: string;
  host: string;
  test: string;
  by: string;
  origin: string;
  at: number;
  reason: string;
}

export type SharedRecord = SharedSilence | SharedAck;

/** The key a record is stored and merged under. */
export function recordKey(r: Pick<SharedRecord, "kind" | "id">): string {
  return `${r.kind}:${r.id}`;
}
