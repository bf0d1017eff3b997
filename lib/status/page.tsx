/**
 * The status page: server-rendered HTML from a {@link StatusView}, with inline CSS, no scripts and
 * a meta refresh, so it works with JavaScript off and on a phone.
 * @module
 */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import { formatPerfItem } from "../runner/perfdata.ts";
import {
  ackText,
  ago,
  countsText,
  displayOrder,
  dotted,
  errorCount,
  isoTime,
  kindOf,
  noticeText,
  notifiedText,
  offsetText,
  phaseNote,
  runTime,
  silenceSource,
  span,
  statusWord,
  summarize,
  tone,
  zonedTime,
} from "./format.ts";
import { CSS } from "./style.ts";
import { AgreementBanner, AgreementSection } from "./agreement_page.tsx";
import { HistoryCharts, Uptime } from "./charts.tsx";
import type {
  CheckView,
  OpenIncident,
  PastIncident,
  PeerView,
  SilenceView,
  SiteView,
  StatusView,
} from "./types.ts";

export interface PageOptions {
  /** Seconds between automatic reloads. */
  refreshSeconds: number;
}

export function When(p: { at: number | null; now: number }) {
  if (p.at === null) return <span>never</span>;
  return <time datetime={isoTime(p.at)} title={isoTime(p.at)}>{ago(p.at, p.now)}</time>;
}

export function badgeClass(status: string): string {
  if (status === "OK") return "badge ok";
  if (["FAIL", "CRITICAL", "ERROR", "TIMEOUT", "UNREACHABLE"].includes(status)) return "badge bad";
  if (status === "WARNING") return "badge warn";
  if (status === "UNKNOWN") return "badge unknown";
  return "badge";
}

function CheckRow(p: { c: CheckView; now: number; silences: SilenceView[] }) {
  const { c, now } = p;
  const kind = kindOf(c, p.silences);
  const note = kind === "silenced" ? "silenced: not notified" : phaseNote(c.phase);
  const word = statusWord(c);
  // Failing only here or under a silence: drawn apart from a confirmed outage.
  const badge = kind === "local-only"
    ? "badge local"
    : kind === "silenced"
    ? "badge muted"
    : tone(c) === "wait"
    ? "badge"
    : `badge ${tone(c)}`;
  return (
    <li
      class={`check ${kind}`}
      data-kind={kind}
      data-host={c.host}
      data-test={c.test}
      data-status={c.status}
      data-state={c.state ?? "PENDING"}
    >
      <span class={badge}>{word}</span>
      <a class="name" href={checkHref(c)}>
        {c.host} <span class="small">{c.test}</span>
      </a>
      <span class="when">
        {c.since === null ? "not run yet" : (
          <>
            {c.status === "OK" ? "up " : "down "}
            <When at={c.since} now={now} />
          </>
        )}
      </span>
      <div class="out">
        {c.output || (c.status === "PENDING" ? "waiting for the first run" : "(no output)")}
        {note ? <span>{` · ${note}`}</span> : null}
        {c.lastRun !== null
          ? (
            <span class="small">
              {" · ran "}
              <When at={c.lastRun} now={now} />
              {` in ${runTime(c.durationMs)}`}
            </span>
          )
          : null}
      </div>
      {c.perfdata && c.perfdata.length > 0
        ? (
          <ul class="perf">
            {perfItems(c.perfdata.map(formatPerfItem))}
          </ul>
        )
        : null}
      {c.history
        ? (
          <div class="hist">
            <Uptime h={c.history} />
            <HistoryCharts h={c.history} />
          </div>
        )
        : null}
    </li>
  );
}

/** The per-check page of `c`, relative to the status page. */
export function checkHref(c: { host: string; test: string }): string {
  return `check/${encodeURIComponent(c.host)}/${encodeURIComponent(c.test)}`;
}

function IncidentCard(p: { i: OpenIncident; now: number }) {
  const { i, now } = p;
  const who = dotted([
    i.site ? `site ${i.site}` : null,
    i.notifier ? `notifier ${i.notifier}` : "no notifier chosen yet",
    i.notifier ? notifiedText(i) : null,
  ]);
  const notices = i.notices ?? [];
  return (
    <div class="card incident" data-incident={i.id}>
      <h3>
        {i.host} {i.test} <span class="small">{`· ${i.state} for ${span(now - i.since)}`}</span>
      </h3>
      <div class="small">{who}</div>
      {i.acknowledged
        ? <div class="small" data-acknowledged="">{ackText(i.acknowledged, now)}</div>
        : null}
      {notices.length > 0
        ? (
          <ul class="notices">
            {notices.map((n) => (
              <li
                data-notice={n.state}
                class={n.state === "failed" || n.state === "no recipients" ? "bad" : ""}
              >
                {noticeText(n, now)}
              </li>
            ))}
          </ul>
        )
        : null}
      {i.votes.length > 0
        ? (
          <div class="scroll">
            <table>
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
                    <td>{v.output}</td>
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

function Peers(p: { peers: PeerView[]; now: number }) {
  return (
    <ul class="rows" id="peers">
      {p.peers.map((x) => (
        <li key={x.address} data-peer={x.address}>
          {x.reachable === null
            ? <span class="badge">UNKNOWN</span>
            : x.reachable
            ? <span class="badge ok">UP</span>
            : <span class="badge bad">DOWN</span>}
          <span class="name">
            {x.name ?? x.address} {x.name ? <span class="small">{x.address}</span> : null}
          </span>
          <span class="when">
            {x.lastContact === null ? "never seen" : (
              <>
                {"seen "}
                <When at={x.lastContact} now={p.now} />
              </>
            )}
          </span>
          <div class="out">
            {dotted([
              x.reachable === null
                ? "not contacted yet"
                : x.rttMs === null
                ? null
                : `rtt ${runTime(x.rttMs)}`,
              errorCount(x.errors),
              x.lastError ? `last: ${x.lastError}` : null,
              x.clockOffsetMs === undefined || x.clockOffsetMs === null
                ? null
                : `clock ${offsetText(x.clockOffsetMs)}`,
            ])}
          </div>
          {x.clockProblem
            ? <div class="out bad" data-clock-problem="">{x.clockProblem}</div>
            : null}
        </li>
      ))}
    </ul>
  );
}

function Sites(p: { sites: SiteView[]; now: number }) {
  return (
    <ul class="rows" id="sites">
      {p.sites.map((x) => (
        <li key={x.name} data-site={x.name}>
          {x.errors > 0 && x.lastError
            ? <span class="badge bad">ERROR</span>
            : x.lastPull === null
            ? <span class="badge">WAITING</span>
            : <span class="badge ok">OK</span>}
          <span class="name">{x.name}</span>
          <span class="when">
            {x.lastPull === null ? "never pulled" : (
              <>
                {"pulled "}
                <When at={x.lastPull} now={p.now} />
              </>
            )}
          </span>
          <div class="out">
            {dotted([
              `lag ${x.lagMs === null ? "unknown" : span(x.lagMs)}`,
              `${x.files} files`,
              x.drainedBy ? `drained by ${x.drainedBy}` : null,
              errorCount(x.errors),
              x.lastError ? `last: ${x.lastError}` : null,
            ])}
          </div>
        </li>
      ))}
    </ul>
  );
}

function History(p: { items: PastIncident[]; now: number }) {
  return (
    <ul class="rows" id="history">
      {p.items.map((h) => (
        <li>
          <span class={h.endedAt === null ? "badge bad" : "badge ok"}>
            {h.endedAt === null ? "OPEN" : "ENDED"}
          </span>
          <span class="name">
            {h.host} <span class="small">{h.test}</span>
          </span>
          <span class="when">
            <When at={h.startedAt} now={p.now} />
          </span>
          <div class="out">
            {dotted([
              h.endedAt === null ? "still open" : `lasted ${span(h.endedAt - h.startedAt)}`,
              h.notifier ? `notified by ${h.notifier}` : null,
              h.site ? `site ${h.site}` : null,
            ])}
          </div>
        </li>
      ))}
    </ul>
  );
}

function Section(p: { id: string; title: string; empty: string | null; children?: Child }) {
  return (
    <section id={p.id}>
      <h2>{p.title}</h2>
      {p.empty === null ? p.children : <p class="empty">{p.empty}</p>}
    </section>
  );
}

/** Stands in for the check rows in the page {@link renderPageChunks} renders around them. */
const ROWS = "<!--dmonitor:check-rows-->";

/** The page around its check rows: {@link ROWS} where they go (see {@link renderPageChunks}). */
function Page(p: { view: StatusView; opts: PageOptions }) {
  const { view, opts } = p;
  const now = view.generatedAt;
  const sum = summarize(view);
  const footer = [
    view.outbox
      ? `Notifications queued: ${view.outbox.pending}, failed: ${view.outbox.failed}.`
      : null,
    `Generated ${isoTime(now)}${
      view.startedAt !== null ? `; node up ${span(now - view.startedAt)}` : ""
    }.`,
    `Reloads every ${opts.refreshSeconds}s.`,
  ].filter((x) => x !== null).join(" ");
  const tone = sum.down > 0
    ? "headline bad"
    : sum.pending === sum.total
    ? "headline wait"
    : "headline";
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta http-equiv="refresh" content={String(opts.refreshSeconds)} />
        <meta name="robots" content="noindex" />
        <title>{`${sum.down > 0 ? `${sum.down} down` : "OK"} · ${view.node} · dmonitor`}</title>
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <main>
          <header>
            <h1>dmonitor · {view.node}</h1>
            <span class="meta">
              {view.mode === "single-node" ? "single-node mode" : `cluster, quorum ${view.quorum}`}
              {" "}
              · version {view.version}
            </span>
          </header>
          {view.degraded
            ? (
              <div class="banner" id="degraded" role="alert">
                This node is degraded:{" "}
                {view.degradedReason ?? "it cannot reach its peers"}. It does not vote failures
                until this clears.
              </div>
            )
            : null}
          <p class={tone} id="headline">{sum.headline}</p>
          <AgreementBanner view={view} />
          <Section
            id="incidents"
            title={`Open incidents (${view.incidents.length})`}
            empty={view.incidents.length ? null : "No open incidents."}
          >
            {view.incidents.map((i) => <IncidentCard key={i.id} i={i} now={now} />)}
          </Section>
          <Section
            id="checks"
            title={`Checks (${countsText(sum)})`}
            empty={view.checks.length
              ? null
              : "No checks configured: add files under hosts.d/<host>/<test>."}
          >
            <ul class="rows">
              {raw(ROWS)}
            </ul>
          </Section>
          <Section
            id="peers-section"
            title={`Peers (${view.peers.length})`}
            empty={view.peers.length
              ? null
              : view.mode === "single-node"
              ? "None: nodes.txt lists no peer, so this node decides alone."
              : "None."}
          >
            <Peers peers={view.peers} now={now} />
          </Section>
          {view.agreement ? <AgreementSection a={view.agreement} /> : null}
          {view.silences && view.silences.length > 0
            ? (
              <Section
                id="silences-section"
                title={`Silenced (${view.silences.length})`}
                empty={null}
              >
                <ul class="rows" id="silences">
                  {view.silences.map((x) => (
                    <li key={x.id ?? x.file ?? x.host} data-silence={x.id ?? x.file ?? ""}>
                      <span class="badge">SILENCED</span>
                      <span class="name">{x.host} {x.test ?? "(all tests)"}</span>
                      <span class="when">ends {ago(x.until, now)}</span>
                      <div class="out">until {zonedTime(x.until)}; {silenceSource(x)}</div>
                    </li>
                  ))}
                </ul>
              </Section>
            )
            : null}
          {view.sites.length > 0
            ? (
              <Section
                id="sites-section"
                title={`Remote sites (${view.sites.length})`}
                empty={null}
              >
                <Sites sites={view.sites} now={now} />
              </Section>
            )
            : null}
          <Section
            id="history-section"
            title="Recent incidents"
            empty={view.history.length ? null : "No incidents recorded."}
          >
            <History items={view.history} now={now} />
          </Section>
          <footer>
            {footer} Also as <a href="v1/status">JSON</a> and <a href="metrics">metrics</a>.
          </footer>
        </main>
      </body>
    </html>
  );
}

/** A check's perfdata items as list entries (no `key`: hono would print it into the HTML). */
function perfItems(items: string[]): Child[] {
  // deno-lint-ignore jsx-key
  return items.map((t) => <li>{t}</li>);
}

/** Renders the whole document, doctype included: {@link renderPageChunks} in one string. */
export function renderPage(view: StatusView, opts: PageOptions): string {
  let out = "";
  for (const chunk of renderPageChunks(view, opts, Infinity)) out += chunk;
  return out;
}

/** How many check rows {@link renderPageChunks} renders in one chunk. */
export const ROWS_PER_CHUNK = 100;

/**
 * The page in pieces: everything around the check rows first,
 * then the rows `perChunk` at a time, then the rest, so that the server can run the node's other
 * work between them (1,000 checks with their history are some 2 MiB of HTML and SVG; in one piece
 * their rendering held the node for the whole of it).
 */
export function* renderPageChunks(
  view: StatusView,
  opts: PageOptions,
  perChunk = ROWS_PER_CHUNK,
): Generator<string> {
  const doc = "<!DOCTYPE html>" + String(<Page view={view} opts={opts} />);
  const at = doc.indexOf(ROWS);
  // No checks: the section says so and has no rows.
  if (at < 0) return yield doc;
  yield doc.slice(0, at);
  const now = view.generatedAt;
  const silences = view.silences ?? [];
  const rows = displayOrder(view.checks, silences);
  for (let i = 0; i < rows.length; i += perChunk) {
    let out = "";
    for (const c of rows.slice(i, i + perChunk)) {
      out += String(<CheckRow c={c} now={now} silences={silences} />);
    }
    yield out;
  }
  yield doc.slice(at + ROWS.length);
}
