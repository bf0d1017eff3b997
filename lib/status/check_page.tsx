/**
 * The page of one check (`/check/<host>/<test>`): its state and output, uptime, the 24-hour
 * timeline and response chart, 30 days of uptime, its perfdata series, its incidents with every
 * node's vote and the notices sent, its state changes and its last runs. Server-rendered HTML with
 * inline CSS and SVG, no scripts, as the status page.
 * @module
 */
import { formatPerfItem, MAX_PERF_ITEMS } from "../runner/perfdata.ts";
import { HistoryCharts, Svg, Uptime } from "./charts.tsx";
import { dotted, isoTime, noticeText, runTime, span, statusWord, tone } from "./format.ts";
import { percent } from "./history.ts";
import { badgeClass, When } from "./page.tsx";
import { CSS } from "./style.ts";
import { daysSvg, seriesSvg } from "./svg.ts";
import type { CheckIncidentView, CheckPageView, RunView } from "./types.ts";

/** Per perfdata label (as the last run has them), its values over the stored runs, oldest first. */
export function perfSeries(runs: readonly RunView[]): {
  label: string;
  unit: string;
  values: number[];
}[] {
  const latest = runs[0]?.perfdata ?? [];
  return latest.slice(0, MAX_PERF_ITEMS).map((p) => {
    const values: number[] = [];
    for (let i = runs.length - 1; i >= 0; i--) {
      const v = runs[i]!.perfdata.find((x) => x.label === p.label && x.unit === p.unit);
      if (v) values.push(v.value);
    }
    return { label: p.label, unit: p.unit, values };
  });
}

function Incident(p: { i: CheckIncidentView; now: number }) {
  const { i, now } = p;
  return (
    <div class={i.state === "closed" ? "card closed" : "card incident"} data-incident={i.id}>
      <h3>
        {i.state === "closed" ? "closed" : i.state}{" "}
        <span class="small">
          {dotted([
            `began ${isoTime(i.startedAt)}`,
            i.endedAt !== null
              ? `ended ${isoTime(i.endedAt)}, lasted ${span(i.endedAt - i.startedAt)}`
              : i.state === "closed"
              ? null
              : `for ${span(now - i.startedAt)}`,
          ])}
        </span>
      </h3>
      {i.notices.length > 0
        ? (
          <ul class="notices">
            {i.notices.map((n) => (
              <li
                data-notice={n.state}
                class={n.state === "failed" || n.state === "no recipients" ? "bad" : ""}
              >
                {noticeText(n, now)}
              </li>
            ))}
          </ul>
        )
        : <p class="small">No notice sent from this node.</p>}
      {i.votes.length > 0
        ? (
          <div class="scroll">
            <table class="votes">
              <thead>
                <tr>
                  <th>node</th>
                  <th>saw</th>
                  <th>when</th>
                  <th>output</th>
                </tr>
              </thead>
              <tbody>
                {i.votes.map((v) => (
                  <tr>
                    <td>{v.node}</td>
                    <td>
                      <span class={badgeClass(v.status)}>{v.status}</span>
                    </td>
                    <td>
                      <When at={v.at} now={now} />
                    </td>
                    <td class="mono">{v.output}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
        : null}
    </div>
  );
}

function CheckPage(p: { v: CheckPageView; refreshSeconds: number }) {
  const { v } = p;
  const c = v.check;
  const now = v.generatedAt;
  const series = perfSeries(v.runs);
  const dayUptime = (d: CheckPageView["days"][number]) => d.runs ? d.ok / d.runs : null;
  const t = tone(c);
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta http-equiv="refresh" content={String(p.refreshSeconds)} />
        <meta name="robots" content="noindex" />
        <title>{`${statusWord(c)} · ${c.host} ${c.test} · ${v.node} · dmonitor`}</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <main>
          <header>
            <h1>
              <a href="../../">dmonitor · {v.node}</a>
            </h1>
            <span class="meta">version {v.version}</span>
          </header>
          <p
            class={t === "bad" ? "headline bad" : t === "wait" ? "headline wait" : "headline"}
            id="headline"
          >
            <span class={t === "wait" ? "badge" : `badge ${t}`}>{statusWord(c)}</span> {c.host}{" "}
            <span class="small">{c.test}</span>
          </p>
          <p class="out" id="output">
            {c.output || (c.status === "PENDING" ? "waiting for the first run" : "(no output)")}
          </p>
          <p class="small">
            {c.since === null ? "not run yet" : (
              <>
                {c.status === "OK" ? "up since " : "down since "}
                <When at={c.since} now={now} />
              </>
            )}
            {c.lastRun !== null
              ? (
                <>
                  {" · ran "}
                  <When at={c.lastRun} now={now} />
                  {` in ${runTime(c.durationMs)} · every ${span(c.intervalMs)}`}
                </>
              )
              : null}
            {c.phase ? ` · phase ${c.phase}` : null}
          </p>
          <section id="history">
            <h2>History</h2>
            {c.history
              ? (
                <div class="hist">
                  <Uptime h={c.history} />
                  <HistoryCharts h={c.history} />
                  <figure class="daysf">
                    <Svg
                      svg={daysSvg(v.days.map((d) => ({
                        day: d.day,
                        uptime: dayUptime(d),
                        text: d.runs
                          ? `${percent(dayUptime(d))} of ${d.runs} runs, avg ${runTime(d.avgMs)}`
                          : "no runs",
                      })))}
                    />
                    <figcaption>
                      <span>30 days ago</span>
                      <span>uptime per day</span>
                      <span>today</span>
                    </figcaption>
                  </figure>
                </div>
              )
              : <p class="empty">No history stored yet.</p>}
          </section>
          <section id="perfdata">
            <h2>{`Perfdata (${series.length})`}</h2>
            {series.length === 0
              ? <p class="empty">The check reports no perfdata.</p>
              : (
                <ul class="rows series-list">
                  {series.map((s) => (
                    <li data-perf={s.label}>
                      <span class="name">{s.label}</span>
                      <span class="when">
                        {`${s.values[s.values.length - 1]}${s.unit}`}
                      </span>
                      <div class="out">
                        <Svg
                          svg={seriesSvg(
                            s.values,
                            `${s.label} over the last ${s.values.length} runs`,
                          )}
                        />
                        {`last ${s.values.length} runs: min ${
                          Math.min(...s.values)
                        }${s.unit}, max ${Math.max(...s.values)}${s.unit}`}
                      </div>
                    </li>
                  ))}
                </ul>
              )}
          </section>
          <section id="incidents">
            <h2>{`Incidents (${v.incidents.length})`}</h2>
            {v.incidents.length === 0
              ? <p class="empty">No incidents recorded for this check.</p>
              : v.incidents.map((i) => <Incident key={i.id} i={i} now={now} />)}
          </section>
          <section id="changes">
            <h2>{`State changes (${v.changes.length})`}</h2>
            {v.changes.length === 0 ? <p class="empty">None recorded.</p> : (
              <ul class="rows">
                {v.changes.slice(0, 50).map((x) => (
                  <li>
                    <span class={badgeClass(x.state)}>{x.state}</span>
                    <span class="name mono">{x.output || "(no output)"}</span>
                    <span class="when">
                      <When at={x.at} now={now} />
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section id="runs">
            <h2>
              {v.runs.length > SHOWN_RUNS
                ? `Last runs (${SHOWN_RUNS} of the ${v.runs.length} kept)`
                : `Last runs (${v.runs.length})`}
            </h2>
            {v.runs.length === 0 ? <p class="empty">Not run yet.</p> : (
              <div class="scroll">
                <table>
                  <thead>
                    <tr>
                      <th>when</th>
                      <th>state</th>
                      <th>took</th>
                      <th>output</th>
                    </tr>
                  </thead>
                  <tbody>
                    {v.runs.slice(0, SHOWN_RUNS).map((r) => (
                      <tr>
                        <td>
                          <When at={r.at} now={now} />
                        </td>
                        <td>
                          <span class={badgeClass(r.state)}>{r.state}</span>
                        </td>
                        <td>{runTime(r.durationMs)}</td>
                        <td class="mono">
                          {r.output}
                          {r.perfdata.length
                            ? (
                              <span class="small">
                                {` | ${r.perfdata.map(formatPerfItem).join(" ")}`}
                              </span>
                            )
                            : null}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <footer>
            Generated {isoTime(now)}. Reloads every {p.refreshSeconds}s. Badges:{" "}
            <a href={`../../badge/${enc(c.host)}/${enc(c.test)}.svg`}>state</a>,{" "}
            <a href={`../../badge/${enc(c.host)}/${enc(c.test)}.svg?window=30d`}>uptime 30 d</a>.
          </footer>
        </main>
      </body>
    </html>
  );
}

const enc = encodeURIComponent;
/** Runs listed in the table (the perfdata series use every run kept). */
const SHOWN_RUNS = 30;

/** Renders the per-check page, doctype included. */
export function renderCheckPage(v: CheckPageView, opts: { refreshSeconds: number }): string {
  return "<!DOCTYPE html>" +
    String(<CheckPage v={v} refreshSeconds={opts.refreshSeconds} />);
}
