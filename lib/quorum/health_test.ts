import assert from "node:assert/strict";
import { type BeatHealth, type HealthTable, withProofOfLife } from "./health.ts";
import type { PeerInfo } from "./types.ts";

const silent = (peer: string, since: number): PeerInfo => ({
  peer,
  node: peer,
  vote: { node: peer, status: "UNREACHABLE", output: "deadline exceeded", at: since },
  incident: null,
  error: "deadline exceeded",
  latencyMs: 0,
  unreachableSince: since,
});

const rounds = (lastOk: Record<string, number | null>): HealthTable =>
  Object.fromEntries(
    Object.entries(lastOk).map((
      [peer, lastOkAt],
    ) => [peer, { peer, node: peer, lastOkAt, unreachableSince: null, lastError: null }]),
  );

Deno.test("withProofOfLife: a silent peer whose heartbeat answers is silent only since that answer", () => {
  const answered: PeerInfo = { ...silent("b", 0), vote: { ...silent("b", 0).vote, status: "OK" } };
  const beats: Record<string, BeatHealth> = {
    // answering its heartbeat now: alive
    a: { lastOkAt: 9_000, unreachableSince: null },
    // its heartbeat answered at 4000, fails since 5000: silent since 5000
    c: { lastOkAt: 4_000, unreachableSince: 5_000 },
    // its heartbeat answered before the rounds did: the rounds know better
    e: { lastOkAt: 500, unreachableSince: 600 },
  };
  const out = withProofOfLife(
    [silent("a", 1_000), silent("c", 1_000), silent("d", 1_000), silent("e", 1_000), answered],
    rounds({ a: 800, c: 800, d: 800, e: 900, b: 0 }),
    (p: string) => beats[p] ?? null,
    10_000,
    30_000,
  );
  assert.deepEqual(out.map((p) => p.unreachableSince), [9_000, 5_000, 1_000, 1_000, 0]);
});

Deno.test("withProofOfLife: a peer cut off since before the outage is silent since then", () => {
  // Never answered anything; the heartbeat has failed since 2000, the first round at 60000.
  const [p] = withProofOfLife(
    [silent("a", 60_000)],
    {},
    () => ({ lastOkAt: null, unreachableSince: 2_000 }),
    60_000,
    30_000,
  );
  assert.equal(p!.unreachableSince, 2_000);
});

Deno.test("withProofOfLife: past stuckMs a live but stuck peer no longer holds anyone back", () => {
  const [p] = withProofOfLife(
    [silent("a", 1_000)],
    rounds({ a: 900 }),
    () => ({ lastOkAt: 40_000, unreachableSince: null }),
    41_000,
    30_000,
  );
  assert.equal(p!.unreachableSince, 1_000);
});
