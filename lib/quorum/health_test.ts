import assert from "node:assert/strict";
import { withProofOfLife } from "./health.ts";
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

Deno.test("withProofOfLife: a silent peer whose heartbeat answers is silent only since that answer", () => {
  const answered: PeerInfo = { ...silent("b", 0), vote: { ...silent("b", 0).vote, status: "OK" } };
  const beats: Record<string, number> = { a: 9_000, c: 500 };
  const out = withProofOfLife(
    [silent("a", 1_000), silent("c", 1_000), silent("d", 1_000), answered],
    (p) => beats[p] ?? null,
    10_000,
    30_000,
  );
  assert.deepEqual(out.map((p) => p.unreachableSince), [9_000, 1_000, 1_000, 0]);
});

Deno.test("withProofOfLife: past stuckMs a live but stuck peer no longer holds anyone back", () => {
  const [p] = withProofOfLife([silent("a", 1_000)], () => 40_000, 41_000, 30_000);
  assert.equal(p!.unreachableSince, 1_000);
});
