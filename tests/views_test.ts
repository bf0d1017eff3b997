/**
 * History as a person sees it: a real node whose state database already holds a month of history
 * (written through the real store: an outage 3 h ago, response times that vary), its status page
 * and per-check pages in headless Chromium with JavaScript off at desktop and 390 px widths
 * (uptime figures, the timeline bar with the outage in red, the response chart, 30 days, perfdata
 * series, the incident with the node's vote and its notice), and its SVG badges. Screenshots are
 * kept under tests/artifacts/views/ (gitignored); their paths are printed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { NodeProcess, ROOT, writeTree } from "./util.ts";
import { Browser } from "./ops_util.ts";
import { giveToServerUser } from "../lib/privilege/testing.ts";
import { StateStore, transaction } from "../lib/store/mod.ts";
import type { CheckResult } from "../lib/runner/result.ts";

const ADDR = "127.0.170.2:2929";
const BASE = `http://${ADDR}`;
const ARTIFACTS = join(ROOT, "tests", "artifacts", "views");
const MIN = 60_000, HOUR = 60 * MIN, DAY = 24 * HOUR;

/** A month of runs for the checks, as the node would have recorded them. */
function prefill(dir: string, now: number): void {
  using store = StateStore.open(dir);
  const checks = [
    { host: "127.0.170.1", test: "web", output: "OK 200 in 12 ms", perf: "time" },
    { host: "db.example", test: "disk", output: "DISK WARNING - /var 91%", perf: "disk" },
    { host: "db.example", test: "queue", output: "OK 12 messages waiting", perf: "" },
  ];
  const longOutage = Math.floor((now - 12 * DAY) / DAY) * DAY;
  const times: number[] = [];
  for (let d = 29; d >= 1; d--) {
    for (let h = 0; h < 24; h += 6) times.push(now - d * DAY + h * HOUR);
  }
  for (let m = 24 * 60; m > 0; m -= 5) times.push(now - m * MIN);
  transaction(store.db, () => {
    for (const at of times) {
      const minute = Math.floor(at / MIN);
      for (const c of checks) {
        // The web check was down for 20 minutes 3 h ago, and for the whole UTC day 12 days ago.
        const down = c.test === "web" &&
          ((at > now - 3 * HOUR && at <= now - 160 * MIN) ||
            (at >= longOutage && at < longOutage + DAY));
        const ms = 8 + (minute % 23) + (at > now - 8 * HOUR && at < now - 6 * HOUR ? 60 : 0);
        const r: CheckResult = {
          host: c.host,
          test: c.test,
          status: down ? "FAIL" : "OK",
          state: down ? "CRITICAL" : c.test === "disk" ? "WARNING" : "OK",
          output: down ? "CRITICAL - connection refused" : c.output,
          perfdata: c.perf === "time"
            ? `time=${ms / 1000}s;1;5;0 size=${5000 + (minute % 400)}B;;;0`
            : c.perf === "disk"
            ? `/var=${88 + (minute % 4)}%;90;95;0;100`
            : "",
          exitCode: down ? 2 : c.test === "disk" ? 1 : 0,
          startedAt: at,
          durationMs: ms,
        };
        store.record(r);
      }
    }
  });
}

async function keep(name: string, png: Uint8Array): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await Deno.writeFile(path, png);
  console.log(`screenshot: ${path}`);
  return path;
}

function isPng(png: Uint8Array, width: number): void {
  assert.deepEqual([...png.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.equal(new DataView(png.buffer).getUint32(16), width, "PNG as wide as the viewport");
  assert.ok(png.length > 20_000, `a rendered page, not a blank one (${png.length} bytes)`);
}

Deno.test("history views: status page, per-check page and badges of a node with a month of history", async (t) => {
  const state = await Deno.makeTempDir({ prefix: "dmonitor-views-state-" });
  prefill(state, Date.now());
  await giveToServerUser(state);
  const tree = await writeTree({
    "dmonitor.yaml":
      `node: views-node\nlisten: ${ADDR}\nstate_dir: ${state}\ninterval: 2s\ntimeout: 1500ms\n` +
      "history_retention: 30d\nstatus:\n  refresh: 60s\n",
    "hosts.d/127.0.170.1/web": "",
    "hosts.d/db.example/disk": "",
    "hosts.d/db.example/queue": "",
    "plugins/check_web": "#!/bin/sh\necho 'OK 200 in 12 ms | time=0.012s;1;5;0 size=5120B;;;0'\n",
    "plugins/check_disk":
      "#!/bin/sh\necho 'DISK WARNING - /var 91% | /var=91%;90;95;0;100'\nexit 1\n",
    "plugins/check_queue": "#!/bin/sh\necho 'FAIL 5123 messages waiting'\n",
  });
  await using node = new NodeProcess(["--config", tree]);
  await node.waitFor(/node started/);
  for (const test of ["web", "disk", "queue"]) {
    await node.waitFor(new RegExp(`test=${test} status=`));
  }
  // The failing queue becomes a confirmed incident (single node), with no recipient to notify.
  await node.waitFor(/no recipients|alert\.d/);

  await t.step("JSON: uptime, timeline and response times per check", async () => {
    const v = await (await fetch(`${BASE}/v1/status`)).json();
    const web = v.checks.find((c: { test: string }) => c.test === "web");
    assert.ok(
      web.history.uptime["24h"] > 0.98 && web.history.uptime["24h"] < 1,
      web.history.uptime["24h"],
    );
    assert.ok(
      web.history.uptime["30d"] < web.history.uptime["7d"],
      "the day-long outage 12 days ago",
    );
    assert.ok(web.history.timeline.segments.some((s: { state: string }) => s.state === "CRITICAL"));
    assert.ok(web.history.response.length >= 24);
  });

  for (const [width, height] of [[1280, 900], [390, 844]] as const) {
    await t.step(
      `status page at ${width} px, JavaScript off: uptime, timeline, chart`,
      async () => {
        await using browser = await Browser.open(width, height);
        await browser.load(`${BASE}/`, { javascript: false });
        assert.equal(await browser.evaluate("document.scripts.length"), 0);
        assert.equal(await browser.evaluate("document.querySelectorAll('svg.tl').length"), 3);
        assert.equal(await browser.evaluate("document.querySelectorAll('svg.rt').length"), 3);
        const row = "document.querySelector('li[data-test=web]')";
        const up = await browser.evaluate<string>(
          `${row}.querySelector('[data-uptime=\"24h\"]').textContent`,
        );
        assert.match(up, /^(98|99)\.\d\d%$/, `24 h uptime with the outage, got ${up}`);
        const text = (await browser.evaluate<string>(`${row}.innerText`)).replace(/\s+/g, " ");
        assert.match(text, /uptime 24 h (98|99)\.\d\d% · 7 d \d+\.\d\d% · 30 d \d+\.\d\d%/);
        assert.match(text, /24 h ago state now response, avg \d+ms top \d+ms/);
        // The outage is a red stretch of the bar, drawn and visible.
        const bad = await browser.evaluate<{ w: number; fill: string }>(
          `(() => { const r = ${row}.querySelector('svg.tl rect.s-bad');
          return { w: r.getBoundingClientRect().width, fill: getComputedStyle(r).fill }; })()`,
        );
        assert.ok(bad.w > 0, `the outage is visible (${bad.w}px)`);
        assert.match(bad.fill, /^rgb\(20[0-9], 3[0-9], 4[0-9]\)$/, `red, got ${bad.fill}`);
        const bar = await browser.evaluate<number>(
          `${row}.querySelector('svg.tl').getBoundingClientRect().width`,
        );
        assert.ok(bar >= (width < 600 ? 200 : 300), `timeline ${bar}px wide at ${width}px`);
        const chart = await browser.evaluate<{ w: number; h: number }>(
          `(() => { const b = ${row}.querySelector('svg.rt path.rt-avg').getBoundingClientRect();
          return { w: b.width, h: b.height }; })()`,
        );
        assert.ok(chart.w > 100 && chart.h > 0, `response bars drawn: ${JSON.stringify(chart)}`);
        const scroll = await browser.evaluate<number>("document.documentElement.scrollWidth");
        assert.ok(scroll <= width, `no horizontal scrolling at ${width}px (page is ${scroll}px)`);
        assert.equal(
          await browser.evaluate(`${row}.querySelector('a.name').getAttribute('href')`),
          "check/127.0.170.1/web",
        );
        const png = await browser.screenshot();
        isPng(png, width);
        await keep(`status-${width}.png`, png);
      },
    );

    await t.step(`per-check pages at ${width} px: history, perfdata, incident, runs`, async () => {
      await using browser = await Browser.open(width, height);
      await browser.load(`${BASE}/check/127.0.170.1/web`, { javascript: false });
      assert.equal(await browser.evaluate("document.scripts.length"), 0);
      const text = (await browser.evaluate<string>("document.body.innerText")).replace(/\s+/g, " ");
      assert.match(text, /UP 127\.0\.170\.1 web 200 in 12 ms up since/);
      assert.match(
        text,
        /Perfdata \(2\) time 0\.012s last 120 runs: min [\d.]+s, max [\d.]+s size 5120B/,
      );
      assert.match(text, /State changes \(\d+\) OK .* CRITICAL CRITICAL - connection refused/);
      assert.match(text, /Last runs \(30 of the 120 kept\)/);
      assert.equal(await browser.evaluate("document.querySelectorAll('svg.days rect').length"), 30);
      assert.equal(
        await browser.evaluate("document.querySelectorAll('svg.days rect.s-bad').length"),
        2,
        "the day of the long outage, and today (20 minutes down: below 99%)",
      );
      assert.equal(await browser.evaluate("document.querySelectorAll('svg.series').length"), 2);
      let scroll = await browser.evaluate<number>("document.documentElement.scrollWidth");
      assert.ok(scroll <= width, `check page: no horizontal scrolling at ${width}px (${scroll}px)`);
      const png = await browser.screenshot();
      isPng(png, width);
      await keep(`check-web-${width}.png`, png);

      await browser.load(`${BASE}/check/db.example/queue`, { javascript: false });
      const q = (await browser.evaluate<string>("document.body.innerText")).replace(/\s+/g, " ");
      assert.match(q, /DOWN db\.example queue 5123 messages waiting down since/);
      assert.match(q, /Incidents \(1\) down began \S+ · for \d+s/);
      assert.match(q, /down NOT SENT: no recipients \(no alert target configured in alert\.d\/\)/);
      assert.match(q, /node saw when output views-node FAIL \d+s ago 5123 messages waiting/);
      scroll = await browser.evaluate<number>("document.documentElement.scrollWidth");
      assert.ok(scroll <= width, `queue page: no horizontal scrolling at ${width}px (${scroll}px)`);
      await keep(`check-queue-${width}.png`, await browser.screenshot());
    });
  }

  await t.step("badges: state and uptime windows as SVG; a bad window is 400", async () => {
    const r = await fetch(`${BASE}/badge/127.0.170.1/web.svg`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "image/svg+xml; charset=utf-8");
    assert.match(
      await r.text(),
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" .*<text [^>]+>UP<\/text><\/g><\/svg>$/,
    );
    const w = await (await fetch(`${BASE}/badge/db.example/disk.svg`)).text();
    assert.match(w, /fill="#9a6700"\/>.*>WARNING<\/text>/);
    const u = await (await fetch(`${BASE}/badge/127.0.170.1/web.svg?window=30d`)).text();
    assert.match(u, /aria-label="web uptime 30d: 9\d\.\d\d%"/);
    const bad = await fetch(`${BASE}/badge/127.0.170.1/web.svg?window=1y`);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    const none = await fetch(`${BASE}/badge/127.0.170.1/nope.svg`);
    assert.equal(none.status, 404);
    await none.body?.cancel();
    // Rendered by Chromium as an image: it has the size it says.
    await using browser = await Browser.open(400, 200);
    await browser.load(`${BASE}/badge/127.0.170.1/web.svg?window=24h`, { javascript: false });
    const size = await browser.evaluate<number[]>(
      "[document.documentElement.getAttribute('width'), document.documentElement.getBBox().height]",
    );
    assert.ok(Number(size[0]) > 50 && size[1]! > 10, JSON.stringify(size));
  });
});
