// Sharing sites among central nodes: keep, hand over when above the share, always claim.
import assert from "node:assert/strict";
import { leaseStep } from "./balance.ts";

Deno.test("leaseStep: a node above its share hands a site over only when another has room", () => {
  const held = (o: Record<string, number>) => new Map(Object.entries(o));
  const cases: [Parameters<typeof leaseStep>[0], string][] = [
    // Not ours: always try (acquireLease grants it only when free or expired).
    [{ mine: false, me: "a", sites: 3, live: ["a", "b"], held: held({ a: 3 }) }, "claim"],
    // 3 sites, 2 nodes: share 2; a holds 3 and b has room: hand one over.
    [{ mine: true, me: "a", sites: 3, live: ["a", "b"], held: held({ a: 3 }) }, "release"],
    [{ mine: true, me: "a", sites: 3, live: ["a", "b"], held: held({ a: 2, b: 1 }) }, "keep"],
    // One site, three nodes: the holder keeps it.
    [{ mine: true, me: "a", sites: 1, live: ["a", "b", "c"], held: held({ a: 1 }) }, "keep"],
    // Alone: everything is its share.
    [{ mine: true, me: "a", sites: 5, live: ["a"], held: held({ a: 5 }) }, "keep"],
    // Above the share but every other live node is full: keep (no ping-pong).
    [
      { mine: true, me: "a", sites: 5, live: ["a", "b", "c"], held: held({ a: 3, b: 2, c: 2 }) },
      "keep",
    ],
    // This node not yet in the live list (first heartbeat pending): counted anyway.
    [{ mine: true, me: "a", sites: 2, live: ["b"], held: held({ a: 2 }) }, "release"],
  ];
  for (const [input, want] of cases) {
    assert.equal(leaseStep(input), want, JSON.stringify([...input.held]));
  }
});
