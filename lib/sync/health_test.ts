import assert from "node:assert/strict";
import { decideHealth, type SiteHealth, unreachableNotification } from "./health.ts";

const MIN = 60_000;

Deno.test("decideHealth: raise once after the threshold, recover on the first success", () => {
  const open = { id: "sync/a/unreachable/100", since: 100 };
  const table: [SiteHealth, boolean, number, string][] = [
    [{ lastSuccess: 100, firstSeen: 0, unreachable: null }, false, 100 + 9 * MIN, "none"],
    [
      { lastSuccess: 100, firstSeen: 0, unreachable: null },
      false,
      100 + 10 * MIN,
      "down sync/a/unreachable/100",
    ],
    [
      { lastSuccess: null, firstSeen: 50, unreachable: null },
      false,
      50 + 10 * MIN,
      "down sync/a/unreachable/50",
    ],
    [{ lastSuccess: 100, firstSeen: 0, unreachable: open }, false, 100 + 99 * MIN, "none"],
    [
      { lastSuccess: 100, firstSeen: 0, unreachable: open },
      true,
      100 + 99 * MIN,
      "recovered sync/a/unreachable/100",
    ],
    [{ lastSuccess: 100, firstSeen: 0, unreachable: null }, true, 100 + 99 * MIN, "none"],
  ];
  for (const [h, reached, now, want] of table) {
    const a = decideHealth("a", h, reached, now, 10 * MIN);
    assert.equal(
      a.action === "none" ? "none" : `${a.action} ${a.id}`,
      want,
      JSON.stringify([h, reached, now]),
    );
  }
});

Deno.test("unreachableNotification: stable ids, one vote from the central node", () => {
  const base = {
    site: "plant-7",
    address: "10.7.0.5:41121",
    id: "sync/plant-7/unreachable/1000",
    since: 1000,
    node: "central",
  };
  const down = unreachableNotification({
    ...base,
    kind: "down",
    now: 700_000,
    detail: "connection refused",
  });
  assert.deepEqual(down, {
    id: "sync/plant-7/unreachable/1000/down",
    kind: "down",
    incidentId: "sync/plant-7/unreachable/1000",
    host: "10.7.0.5:41121",
    test: "sync",
    startedAt: 1000,
    endedAt: null,
    votes: [{ node: "central", status: "FAIL", output: "connection refused", at: 700_000 }],
    nodesTotal: 1,
    notifier: "central",
    site: "plant-7",
  });
  const up = unreachableNotification({
    ...base,
    kind: "recovered",
    now: 900_000,
    detail: "reached",
  });
  assert.equal(up.id, "sync/plant-7/unreachable/1000/recovered");
  assert.equal(up.endedAt, 900_000);
  assert.equal(up.votes[0]!.status, "OK");
});
