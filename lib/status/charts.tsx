/**
 * The history pictures a check row shows on the status page and the per-check page: uptime over
 * 24 h, 7 d and 30 d, the 24-hour state timeline and the hourly response-time chart, as inline
 * SVG from lib/status/svg.ts (no scripts).
 * @module
 */
import { percent } from "./history.ts";
import { isoTime, runTime } from "./format.ts";
import { niceCeil, responseSvg, timelineSvg } from "./svg.ts";
import type { HistoryView } from "./types.ts";

const HOUR_MS = 3_600_000;

/** An SVG string placed as is (it comes from the pure builders, which escape all text). */
export function Svg(p: { svg: string }) {
  return <span class="pic" dangerouslySetInnerHTML={{ __html: p.svg }} />;
}

/** Uptime figures, as `uptime 24 h 99.95% · 7 d 100% · 30 d 100%`. */
export function Uptime(p: { h: HistoryView }) {
  const u = p.h.uptime;
  return (
    <span class="upt">
      {"uptime 24 h "}
      <b data-uptime="24h">{percent(u["24h"])}</b>
      {" · 7 d "}
      <b data-uptime="7d">{percent(u["7d"])}</b>
      {" · 30 d "}
      <b data-uptime="30d">{percent(u["30d"])}</b>
    </span>
  );
}

/** The timeline bar and the response chart, each with its scale underneath. */
export function HistoryCharts(p: { h: HistoryView }) {
  const { h } = p;
  const scale = niceCeil(Math.max(0, ...h.response.map((r) => r.maxMs)));
  const slow = h.response.reduce((m, r) => Math.max(m, r.maxMs), 0);
  const avg = h.response.reduce((s, r) => s + r.avgMs * r.runs, 0) /
    Math.max(1, h.response.reduce((s, r) => s + r.runs, 0));
  return (
    <>
      <figure class="tlf">
        <Svg svg={timelineSvg(h.timeline, "state over the last 24 hours")} />
        <figcaption>
          <span title={isoTime(h.timeline.from)}>24 h ago</span>
          <span>state</span>
          <span title={isoTime(h.timeline.to)}>now</span>
        </figcaption>
      </figure>
      <figure class="rtf">
        <Svg
          svg={responseSvg(h.response, {
            from: h.timeline.from,
            to: h.timeline.to,
            step: HOUR_MS,
            scaleMs: scale,
            label: `response time per hour, last 24 hours: average ${runTime(avg)}, slowest ${
              runTime(slow)
            }`,
          })}
        />
        <figcaption>
          <span>{`response, avg ${runTime(avg)}`}</span>
          <span>{`top ${runTime(scale)}`}</span>
        </figcaption>
      </figure>
    </>
  );
}
