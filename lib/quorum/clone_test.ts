import assert from "node:assert/strict";
import { cloneData } from "./clone.ts";

Deno.test("cloneData: a deep copy equal to structuredClone's for a state, sharing nothing", () => {
  const notice = { by: "n1", committedAt: 1, deliveredAt: null, passed: ["n2"] };
  const state = {
    host: "10.0.0.1",
    test: "tcp",
    phase: "down",
    claim: null,
    settleMs: undefined,
    incident: { id: "n1-1", startedAt: 1, endedAt: null, down: notice, recovered: null },
    closed: null,
    since: 1,
    claimedAt: null,
    votes: [{ node: "n1", status: "FAIL", output: "refused", at: 1 }],
    reminders: 0,
    heard: null,
  };
  const copy = cloneData(state);
  assert.deepStrictEqual(copy, structuredClone(state));
  assert.ok("settleMs" in copy, "an undefined key is kept, as structuredClone keeps it");
  copy.incident.down.passed.push("n3");
  copy.votes[0]!.status = "OK";
  assert.deepEqual(state.incident.down.passed, ["n2"]);
  assert.equal(state.votes[0]!.status, "FAIL");
  assert.equal(cloneData(null), null);
  assert.equal(cloneData(3), 3);
});
