/**
 * The status page's configuration agreement: a banner under the headline when a peer's tree
 * differs or a test can never be confirmed, and a section listing each peer's agreement.
 * @module
 */
import type { AgreementView } from "../agree/tracker.ts";
import { agreementWarnings } from "./text.ts";
import type { StatusView } from "./types.ts";

export function AgreementBanner(p: { view: StatusView }) {
  const lines = agreementWarnings(p.view).map((l) => l.replace(" (see Configuration below)", ""));
  if (lines.length === 0) return null;
  return (
    <div class="banner" id="agreement-banner" role="alert">
      {lines.join(". ")}.
    </div>
  );
}

export function AgreementSection(p: { a: AgreementView }) {
  const { a } = p;
  return (
    <section id="agreement-section">
      <h2>Configuration (digest {a.digest})</h2>
      <ul class="rows" id="agreement">
        {a.peers.map((x) => (
          <li key={x.address} data-peer={x.address}>
            {x.agrees === null
              ? <span class="badge">UNKNOWN</span>
              : x.agrees
              ? <span class="badge ok">SAME</span>
              : <span class="badge warn">DIFFERS</span>}
            <span class="name">
              {x.node ?? x.address} {x.node ? <span class="small">{x.address}</span> : null}
            </span>
            <span class="when">
              {x.agrees === false
                ? `${x.differenceCount} entr${x.differenceCount === 1 ? "y" : "ies"} differ`
                : x.digest ?? "not known yet"}
            </span>
            {x.differences.length > 0 || x.error
              ? (
                <div class="out">
                  {x.differences.map((d) => d.text).join("\n")}
                  {x.differenceCount > x.differences.length
                    ? `\n... and ${x.differenceCount - x.differences.length} more`
                    : ""}
                  {x.error ? `cannot fetch its entries: ${x.error}` : ""}
                </div>
              )
              : null}
          </li>
        ))}
        {a.unconfirmable.map((u) => (
          <li key={`${u.host}/${u.test}`} data-unconfirmable={`${u.host}/${u.test}`}>
            <span class="badge warn">NEVER</span>
            <span class="name">{u.host} {u.test}</span>
            <div class="out">{u.message}</div>
          </li>
        ))}
      </ul>
    </section>
  );
}
