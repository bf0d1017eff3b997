/**
 * `tls`: the server's certificate must be trusted, valid for the host, and not expire within
 * `min_days` days.
 *
 * Deno.connectTls does not expose the peer certificate, so this uses node:tls with
 * `rejectUnauthorized: false` and judges the chain itself: an untrusted or mismatched certificate
 * is a FAIL (a browser would refuse it too) unless `insecure: true`, which leaves only the expiry
 * test, for self-signed appliances. `ca` adds a private CA instead of giving up verification.
 * @module
 */
import type { PeerCertificate } from "node:tls";
import type { CheckOutcome } from "./types.ts";
import { abortText, defineCheck, errorText, fail, hostPort, ipVersion, ok, quote } from "./util.ts";

const DAY_MS = 86_400_000;

/** What the check learned from the handshake. */
export interface PeerCertInfo {
  /** The certificate's CN, else its first subjectAltName, else "". */
  name: string;
  /** Epoch ms of notAfter. */
  validTo: number;
  /** True when the chain verified against the roots (plus `ca`) and the name matched. */
  authorized: boolean;
  /** OpenSSL-style code, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, when not authorized. */
  authError?: string;
}

/** Decides a certificate (pure, `now` injected): expired, untrusted, or too close to expiry. */
export function judgeCertificate(
  c: PeerCertInfo,
  opts: { minDays: number; insecure: boolean },
  now: number,
): CheckOutcome {
  const who = `certificate for ${c.name || "(no name)"}`;
  const date = new Date(c.validTo).toISOString().slice(0, 10);
  const days = Math.floor((c.validTo - now) / DAY_MS);
  const perf = `days=${days}`;
  if (c.validTo <= now) return fail(`${who} expired ${date} (${-days} days ago)`, perf);
  const expiry = `expires ${date} (${days} days)`;
  if (!c.authorized && !opts.insecure) {
    const why = c.authError ?? "verification failed";
    const fix = /ALTNAME|HOSTNAME|IP/.test(why)
      ? "set 'servername' or 'insecure'"
      : "set 'ca' or 'insecure'";
    return fail(`${who} is not trusted: ${why}, ${expiry}; ${fix}`, perf);
  }
  if (days < opts.minDays) {
    return fail(`${who} ${expiry}, fewer than min_days ${opts.minDays}`, perf);
  }
  return ok(`${who} ${expiry}`, perf);
}

/** Picks a display name from node's certificate object. */
export function certName(cert: Pick<PeerCertificate, "subject" | "subjectaltname">): string {
  const cn = cert.subject?.CN;
  if (typeof cn === "string" && cn) return cn;
  if (Array.isArray(cn) && cn[0]) return String(cn[0]);
  const san = cert.subjectaltname?.split(",")[0]?.trim() ?? "";
  return san.replace(/^(DNS|IP Address):/, "");
}

/** Handshakes with `host:port` and returns the peer certificate; rejects on error or abort. */
async function handshake(
  host: string,
  port: number,
  opts: { servername?: string; ca?: string; signal: AbortSignal },
): Promise<PeerCertInfo> {
  // Loaded with the first TLS check: a node that has none never pays for node:tls.
  const { connect, rootCertificates } = await import("node:tls");
  return await new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      // SNI must be a name; for an IP literal node verifies the IP against the SANs instead.
      servername: opts.servername ?? (ipVersion(host) ? undefined : host),
      // node's `ca` replaces the default roots; keep them so `ca` only adds a private CA.
      ca: opts.ca === undefined ? undefined : [...rootCertificates, opts.ca],
      rejectUnauthorized: false,
    });
    const onAbort = () => finish(() => reject(opts.signal.reason));
    const finish = (settle: () => void) => {
      opts.signal.removeEventListener("abort", onAbort);
      socket.destroy();
      settle();
    };
    opts.signal.addEventListener("abort", onAbort, { once: true });
    if (opts.signal.aborted) return onAbort();
    socket.once("error", (e) => finish(() => reject(e)));
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const validTo = Date.parse(cert?.valid_to ?? "");
      if (!cert || Number.isNaN(validTo)) {
        return finish(() => reject(new Error("server sent no certificate")));
      }
      const err = socket.authorizationError;
      const info: PeerCertInfo = {
        name: certName(cert),
        validTo,
        authorized: socket.authorized,
      };
      if (err) info.authError = typeof err === "string" ? err : (err as Error).message;
      finish(() => resolve(info));
    });
  });
}

export const tls = defineCheck({
  name: "tls",
  doc: "Checks the TLS certificate: trusted, matching the host, not expiring within `min_days`.",
  params: {
    port: { type: "port", default: 443, doc: "TLS port." },
    min_days: {
      type: "int",
      default: 14,
      min: 0,
      max: 36500,
      doc: "Fail when the certificate expires in fewer than this many days.",
    },
    servername: {
      type: "string",
      doc: "Name sent as SNI and verified against the certificate (default: the host).",
    },
    ca: {
      type: "string",
      doc: "Absolute path of a PEM CA bundle trusted in addition to the built-in roots.",
    },
    insecure: {
      type: "bool",
      default: false,
      doc: "Skip chain and name verification; only the expiry is checked.",
    },
  },
}, async (ctx, p): Promise<CheckOutcome> => {
  const port = p.int("port");
  const where = hostPort(ctx.host, port);
  const caPath = p.str("ca");
  let ca: string | undefined;
  if (caPath !== undefined) {
    try {
      ca = await Deno.readTextFile(caPath);
    } catch (e) {
      return fail(`cannot read ca file ${quote(caPath)}: ${errorText(e)}`);
    }
  }
  try {
    const info = await handshake(ctx.host, port, {
      servername: p.str("servername"),
      ca,
      signal: ctx.signal,
    });
    return judgeCertificate(
      info,
      { minDays: p.int("min_days"), insecure: p.bool("insecure") },
      Date.now(),
    );
  } catch (e) {
    if (ctx.signal.aborted) return fail(`${abortText(ctx)} during the TLS handshake with ${where}`);
    return fail(`TLS handshake with ${where} failed: ${errorText(e)}`);
  }
});
