import assert from "node:assert/strict";
import { renderPage, renderPageChunks } from "./page.tsx";
import { renderText } from "./text.ts";
import { span, summarize } from "./format.ts";
import { NOW, sampleView } from "./testing.ts";

Deno.test("span and summarize phrase what a person reads", () => {
  assert.deepEqual([0, 45_000, 180_000, 7_500_000, 7_200_000, 97_200_000].map(span), [
    "0s",
    "45s",
    "3m",
    "2h 5m",
    "2h",
    "1d 3h",
  ]);
  assert.equal(
    summarize(sampleView()).headline,
    "1 of 4 checks down (1 failing only on this node)",
  );
  assert.equal(summarize(sampleView({ checks: [] })).headline, "no checks configured");
  const up = sampleView().checks.filter((c) => c.status === "OK");
  assert.equal(summarize(sampleView({ checks: up })).headline, "the check is up");
});

Deno.test("page: self-refreshing, no scripts or external assets, content escaped", () => {
  const evil = sampleView().checks[0]!;
  const html = renderPage(
    sampleView({
      checks: [...sampleView().checks, {
        ...evil,
        host: "x.example",
        output: "<script>alert(1)</script>",
      }],
    }),
    { refreshSeconds: 15 },
  );
  assert.match(html, /^<!DOCTYPE html><html lang="en">/);
  assert.match(html, /<meta http-equiv="refresh" content="15"\/?>/);
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1"\/?>/);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(html, /<title>1 down · alpha · dmonitor<\/title>/);
});

Deno.test("page shows checks, incidents with votes, peers, sites, history", () => {
  const html = renderPage(sampleView(), { refreshSeconds: 30 });
  const text = html.replace(/<style>.*?<\/style>/s, "").replace(/<[^>]+>/g, " ").replace(
    /\s+/g,
    " ",
  );
  for (
    const want of [
      "dmonitor · alpha",
      "cluster, quorum 2",
      "1 of 4 checks down (1 failing only on this node)",
      "Checks (1 up, 1 down, 1 only on this node, 1 waiting)",
      "Open incidents (1)",
      "db.example.com tcp · down for 6m",
      "notifier alpha · notified",
      "gamma UNREACHABLE",
      "DOWN db.example.com tcp down 7m ago connection refused on port 5432 · confirmed down",
      "only this node sees it (its view differs)",
      "PENDING new.example.com ping not run yet waiting for the first run",
      "UP www.example.com https up 2h ago",
      "UP beta 10.0.0.2:2929 seen 4s ago rtt 2ms · 0 errors",
      "DOWN 10.0.0.3:2929 never seen 17 errors · last: connection refused",
      "OK plant-7 pulled 40s ago lag 1m · 120 files · drained by central-2 · 1 error",
      "ENDED www.example.com https 2h 30m ago lasted 25m · notified by beta",
      "Notifications queued: 1, failed: 0",
    ]
  ) assert.ok(text.includes(want), `page lacks ${JSON.stringify(want)}:\n${text}`);
  // Down checks come first.
  assert.ok(text.indexOf("db.example.com tcp down") < text.indexOf("www.example.com https up"));
  const degraded = renderPage(sampleView({ degraded: true, degradedReason: "no peer reachable" }), {
    refreshSeconds: 30,
  });
  assert.match(degraded, /This node is degraded: no peer reachable/);
  const single = renderPage(sampleView({ mode: "single-node", peers: [], sites: [] }), {
    refreshSeconds: 30,
  });
  assert.match(single, /single-node mode/);
  assert.match(single, /None: nodes.txt lists no peer/);
  assert.doesNotMatch(single, /Remote sites/);
});

Deno.test("terminal view: exact layout of the sample", () => {
  assert.equal(
    renderText(sampleView({ sites: [], history: [], outbox: null })),
    `dmonitor alpha  cluster, quorum 2  version 0.1.0
1 of 4 checks down (1 failing only on this node)

Open incidents (1)
  DOWN db.example.com tcp for 6m; notifier alpha, notified
     alpha  FAIL         6m ago  connection refused on port 5432
     beta   FAIL         5m ago  connection refused
     gamma  UNREACHABLE  5m ago  no answer in 11s

Checks (1 up, 1 down, 1 only on this node, 1 waiting)
   DOWN     db.example.com    tcp    down 7m ago  3ms   connection refused on port 5432 [confirmed down]
   TIMEOUT  mail.example.com  smtp   down 2m ago  10s   no banner within 10s [only this node sees it (its view differs)]
   PENDING  new.example.com   ping   not run yet  -
   UP       www.example.com   https  up 2h ago    41ms  HTTP 200 in 41 ms

Peers (2)
   beta (10.0.0.2:2929)  reachable    last contact 4s ago  rtt 2ms  0 errors
   10.0.0.3:2929         unreachable  last contact never   rtt -    17 errors: connection refused

Recent incidents
  none
`,
  );
  const coloured = renderText(sampleView(), { colour: true });
  assert.ok(coloured.includes("\x1b[31mDOWN\x1b[0m"), "down is red");
  assert.ok(NOW > 0);
});

Deno.test("OK, WARNING, CRITICAL, UNKNOWN and TIMEOUT read apart in the terminal and on the page", () => {
  const base = sampleView().checks[0]!;
  const c = (
    test: string,
    status: "OK" | "FAIL" | "TIMEOUT",
    state: "OK" | "WARNING" | "CRITICAL" | "UNKNOWN" | "TIMEOUT",
  ) => ({ ...base, host: "h.example", test, status, state, output: `${test} said so` });
  const view = sampleView({
    checks: [
      c("a_ok", "OK", "OK"),
      c("b_warn", "OK", "WARNING"),
      c("c_crit", "FAIL", "CRITICAL"),
      c("d_unknown", "FAIL", "UNKNOWN"),
      c("e_timeout", "TIMEOUT", "TIMEOUT"),
      c("f_unknown_pass", "OK", "UNKNOWN"),
    ],
    incidents: [],
    history: [],
    peers: [],
    sites: [],
    outbox: null,
  });
  const text = renderText(view);
  const lines = text.split("\n").filter((l) => l.includes("h.example"));
  assert.deepEqual(lines.map((l) => l.trim().split(/\s+/).slice(0, 3).join(" ")), [
    "CRITICAL h.example c_crit",
    "UNKNOWN h.example d_unknown",
    "TIMEOUT h.example e_timeout",
    "UP h.example a_ok",
    "WARNING h.example b_warn",
    "UNKNOWN h.example f_unknown_pass",
  ]);
  const html = renderPage(view, { refreshSeconds: 30 });
  const badge = (test: string) =>
    new RegExp(`data-test="${test}"[^>]*>\\s*<span class="([^"]+)">([A-Z]+)</span>`).exec(html)
      ?.slice(1);
  assert.deepEqual(badge("a_ok"), ["badge ok", "UP"]);
  assert.deepEqual(badge("b_warn"), ["badge warn", "WARNING"]);
  assert.deepEqual(badge("c_crit"), ["badge bad", "CRITICAL"]);
  assert.deepEqual(badge("d_unknown"), ["badge unknown", "UNKNOWN"]);
  assert.deepEqual(badge("e_timeout"), ["badge bad", "TIMEOUT"]);
  assert.deepEqual(badge("f_unknown_pass"), ["badge unknown", "UNKNOWN"]);
});

Deno.test("page and terminal: local-only and silenced failures are drawn and counted apart", () => {
  const [up, down, local] = sampleView().checks;
  const view = sampleView({
    checks: [
      up!,
      local!,
      { ...down!, host: "quiet.example", phase: "down" },
    ],
    silences: [{ host: "quiet.example", test: null, until: NOW + 3_600_000, reason: "works" }],
    incidents: [],
  });
  const sum = summarize(view);
  assert.deepEqual([sum.down, sum.localOnly, sum.silenced, sum.up], [0, 1, 1, 1]);
  assert.equal(
    sum.headline,
    "no confirmed outage; 1 of 3 checks up (1 failing only on this node, 1 silenced)",
  );
  const html = renderPage(view, { refreshSeconds: 30 });
  assert.match(html, /<title>OK · alpha · dmonitor<\/title>/);
  assert.match(html, /<p class="headline" id="headline">no confirmed outage/);
  const row = (host: string) =>
    new RegExp(
      `<li class="([^"]+)" data-kind="([^"]+)" data-host="${host}"[^>]*>` +
        `<span class="([^"]+)">`,
    ).exec(html)?.slice(1);
  assert.deepEqual(row("mail.example.com"), ["check local-only", "local-only", "badge local"]);
  assert.deepEqual(row("quiet.example"), ["check silenced", "silenced", "badge muted"]);
  assert.deepEqual(row("www.example.com"), ["check up", "up", "badge ok"]);
  assert.match(html, /Checks \(1 up, 0 down, 1 only on this node, 1 silenced\)/);
  const text = renderText(view);
  assert.match(
    text,
    /^no confirmed outage; 1 of 3 checks up \(1 failing only on this node, 1 silenced\)$/m,
  );
  assert.match(text, /^ {3}DOWN +quiet\.example +tcp .*\[silenced: not notified\]$/m);
  // Order: failing only here, then silenced, then up.
  assert.ok(text.indexOf("mail.example.com") < text.indexOf("quiet.example"));
  assert.ok(text.indexOf("quiet.example") < text.indexOf("www.example.com"));
});

Deno.test("page: every 'N ago' carries its absolute time (ISO 8601 with zone) in a title", () => {
  const html = renderPage(sampleView(), { refreshSeconds: 30 }).replace(/<style>.*?<\/style>/s, "");
  const agos = [...html.matchAll(/(\d+[smhd]( \d+[smhd])? ago)/g)];
  assert.ok(agos.length >= 8, `the sample has ages (${agos.length})`);
  for (const m of agos) {
    const before = html.slice(0, m.index);
    const open = /<time datetime="([^"]+)" title="([^"]+)">$/.exec(before);
    assert.ok(open, `"${m[0]}" has no <time title> around it: ...${before.slice(-80)}`);
    assert.match(open[2]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(open[1], open[2]);
  }
});

Deno.test("page and terminal: an acknowledgement, shared and file silences, and a clock problem", () => {
  const base = sampleView();
  const view = sampleView({
    incidents: base.incidents.map((i) => ({
      ...i,
      acknowledged: { by: "carol", origin: "beta", at: NOW - 120_000, reason: "disk ordered" },
    })),
    peers: base.peers.map((p, i) =>
      i === 0
        ? {
          ...p,
          clockOffsetMs: 7_400,
          clockProblem: "clock of beta is 7.4 s ahead of this node's (more than 5 s): ...",
        }
        : { ...p, clockOffsetMs: -120 }
    ),
    silences: [
      {
        host: "db1",
        test: null,
        until: Date.parse("2025-03-01T18:00Z"),
        reason: "swap",
        id: "0123456789ab",
        by: "alice",
        origin: "beta",
        createdAt: NOW,
      },
      { host: "db2", test: "ssh", until: NOW + 60_000, reason: "", file: "silence.d/db2/ssh" },
    ],
  });
  const text = renderText(view);
  assert.match(
    text,
    /^ {4}acknowledged by carol on beta 2m ago \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): disk ordered; reminders stop, the recovery is still sent$/m,
  );
  assert.match(text, /^ {2}CLOCK: clock of beta is 7\.4 s ahead of this node's/m);
  assert.match(text, /beta \(10\.0\.0\.2:2929\) .* clock \+7\.4 s$/m);
  assert.match(text, /10\.0\.0\.3:2929 .* clock -0\.1 s$/m);
  assert.match(
    text,
    /^ {3}db1 +\(all tests\) +until 2025-03-01 18:00:00 UTC \(.*\); shared, id 0123456789ab, added by alice on beta: swap$/m,
  );
  assert.match(
    text,
    /^ {3}db2 +ssh +until .* UTC \(in 1m\); file silence\.d\/db2\/ssh on this node$/m,
  );
  const html = renderPage(view, { refreshSeconds: 30 });
  assert.match(html, /data-acknowledged="">acknowledged by carol on beta 2m ago/);
  assert.match(html, /data-clock-problem="">clock of beta is 7\.4 s ahead/);
  assert.match(
    html,
    /until 2025-03-01 18:00:00 UTC; shared, id 0123456789ab, added by alice on beta: swap/,
  );
});

Deno.test("terminal text lists each remote site with the central node that drains it", () => {
  const text = renderText(sampleView());
  assert.match(
    text,
    /Remote sites \(1\)\n\s+plant-7\s+last pull 40s ago\s+lag .*120 files\s+drained by central-2\s+1 errors/,
  );
});

Deno.test("renderPageChunks: the same document as renderPage, its check rows in chunks", () => {
  const view = sampleView();
  const whole = renderPage(view, { refreshSeconds: 30 });
  for (const per of [1, 2, 100]) {
    const chunks = [...renderPageChunks(view, { refreshSeconds: 30 }, per)];
    assert.equal(chunks.join(""), whole);
    // Around the rows, the rows in ceil(n / per) pieces, after the rows.
    assert.equal(chunks.length, 2 + Math.ceil(view.checks.length / per));
  }
  const empty = sampleView({ checks: [] });
  assert.equal(
    [...renderPageChunks(empty, { refreshSeconds: 30 })].join(""),
    renderPage(empty, { refreshSeconds: 30 }),
  );
});
