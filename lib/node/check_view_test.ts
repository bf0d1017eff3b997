import assert from "node:assert/strict";
import type { OutboxRow } from "../alerts/mod.ts";
import { sampleView } from "../status/testing.ts";
import { checkIncidents, checkPageView, lastDays } from "./check_view.ts";

const NOW = sampleView().generatedAt;
const row = (over: Partial<OutboxRow>): OutboxRow => ({
  id: 1,
  notificationId: "n1",
  recipient: "email:ops@example.com",
  channel: "email",
  target: "ops@example.com",
  incidentId: "beta-1",
  kind: "down",
  host: "www.example.com",
  test: "https",
  summary: "DOWN www.example.com https",
  payload: JSON.stringify({
    startedAt: NOW - 3_600_000,
    endedAt: null,
    votes: [{ node: "beta", status: "FAIL", output: "HTTP 503", at: NOW - 3_590_000 }],
  }),
  status: "sent",
  attempts: 1,
  createdAt: NOW - 3_580_000,
  nextAt: 0,
  sentAt: NOW - 3_570_000,
  lastError: null,
  receipt: "250 ok",
  ...over,
});

Deno.test("checkIncidents: the open incident first (its current votes), then the outbox's, newest first, votes from the notice that decided them", () => {
  const view = sampleView();
  const rows = [
    row({}),
    row({
      id: 2,
      kind: "recovered",
      payload: JSON.stringify({ startedAt: NOW - 3_600_000, endedAt: NOW - 1_800_000, votes: [] }),
      status: "failed",
      lastError: "550 no such user",
    }),
    row({
      id: 3,
      incidentId: "beta-0",
      payload: JSON.stringify({ startedAt: NOW - 90_000_000, votes: [] }),
    }),
  ];
  const got = checkIncidents(view, "www.example.com", "https", rows);
  assert.deepEqual(got.map((i) => [i.id, i.state, i.endedAt]), [
    ["beta-1", "closed", NOW - 1_800_000],
    ["beta-0", "closed", null],
  ]);
  assert.deepEqual(got[0]!.votes, [{
    node: "beta",
    status: "FAIL",
    output: "HTTP 503",
    at: NOW - 3_590_000,
  }]);
  assert.deepEqual(got[0]!.notices.map((n) => [n.kind, n.state, n.lastError]), [
    ["down", "delivered", null],
    ["recovered", "failed", "550 no such user"],
  ]);
  const open = checkIncidents(view, "db.example.com", "tcp", [
    row({ host: "db.example.com", test: "tcp", incidentId: "alpha-1732181000000" }),
  ]);
  assert.deepEqual(open.map((i) => [i.id, i.state, i.votes.length]), [[
    "alpha-1732181000000",
    "down",
    3,
  ]]);
});

Deno.test("checkPageView: null for an unconfigured check; 30 days with empty ones", () => {
  const view = sampleView();
  const data = {
    days: [],
    changes: [],
    runs: [],
    outbox: [],
  };
  assert.equal(checkPageView(view, "nope", "x", data), null);
  const days = lastDays(
    [{ start: NOW - (NOW % 86_400_000), runs: 4, ok: 3, durSumMs: 40, durMaxMs: 20 }],
    NOW,
  );
  assert.equal(days.length, 30);
  assert.deepEqual(days[29], { day: NOW - (NOW % 86_400_000), runs: 4, ok: 3, avgMs: 10 });
  assert.deepEqual(days[0], {
    day: NOW - (NOW % 86_400_000) - 29 * 86_400_000,
    runs: 0,
    ok: 0,
    avgMs: null,
  });
});
