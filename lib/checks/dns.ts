/**
 * `dns`: resolves the host's A and AAAA records through a DNS server and, with `expect`, requires
 * one address among the answers.
 *
 * Without `server` the query goes to the name servers in /etc/resolv.conf (Deno.resolveDns reads
 * it directly): /etc/hosts and nsswitch are not consulted, because this checks the DNS service,
 * not the local name lookup. A host that is an IP literal has nothing to resolve and FAILs.
 * @module
 */
import type { CheckOutcome } from "./types.ts";
import {
  abortText,
  defineCheck,
  errorText,
  fail,
  fmtMs,
  ipVersion,
  ok,
  quote,
  since,
  timePerf,
} from "./util.ts";

/** Parses `server`: `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1` or `[2001:db8::1]:5353`. */
export function parseServer(s: string): { ipAddr: string; port: number } | null {
  let ip = s;
  let port = 53;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const v4 = /^([^:]+):(\d+)$/.exec(s);
  if (v6) {
    ip = v6[1]!;
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else if (v4) {
    ip = v4[1]!;
    port = Number(v4[2]);
  }
  if (ipVersion(ip) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { ipAddr: ip, port };
}

/** Canonical text of an IP address, so `2001:DB8:0::1` equals `2001:db8::1`; other text unchanged. */
export function canonicalIP(ip: string): string {
  if (ipVersion(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** How many addresses the output lists before saying "and N more". */
const SHOW = 4;

export const dns = defineCheck({
  name: "dns",
  doc:
    "Resolves the host's A/AAAA records; OK when there is an answer (containing `expect`, if set).",
  params: {
    server: {
      type: "string",
      doc: "DNS server to ask, `ip` or `ip:port` (`[v6]:port`); default: the resolv.conf servers.",
    },
    expect: { type: "string", doc: "An IP address that must be among the answers." },
  },
}, async (ctx, p): Promise<CheckOutcome> => {
  const serverText = p.str("server");
  const expect = p.str("expect");
  if (ipVersion(ctx.host) !== 0) {
    return fail(`${ctx.host} is an IP address; there is no name to resolve`);
  }
  const nameServer = serverText === undefined ? undefined : parseServer(serverText);
  if (nameServer === null) {
    return fail(`dns: parameter 'server' must be ip or ip:port, got ${quote(serverText ?? "")}`);
  }
  const via = nameServer ? ` via ${serverText}` : "";
  const t0 = performance.now();
  const opts: Deno.ResolveDnsOptions = { signal: ctx.signal };
  if (nameServer) opts.nameServer = nameServer;
  const [a, aaaa] = await Promise.allSettled([
    Deno.resolveDns(ctx.host, "A", opts),
    Deno.resolveDns(ctx.host, "AAAA", opts),
  ]);
  const ms = since(t0);
  const perf = timePerf(ms);
  if (ctx.signal.aborted) return fail(`${abortText(ctx)} resolving ${ctx.host}${via}`);
  const answers = [
    ...(a.status === "fulfilled" ? a.value : []),
    ...(aaaa.status === "fulfilled" ? aaaa.value : []),
  ].map(canonicalIP);
  if (answers.length === 0) {
    // NotFound means the server answered with no records (NXDOMAIN or no data): say that plainly.
    const errs = [a, aaaa].flatMap((r) => r.status === "rejected" ? [r.reason] : []);
    const real = errs.find((e) => !(e instanceof Deno.errors.NotFound));
    const why = real ? errorText(real) : "no A or AAAA records";
    return fail(`cannot resolve ${ctx.host}${via}: ${why}`, perf);
  }
  const shown = answers.slice(0, SHOW).join(", ") +
    (answers.length > SHOW ? ` and ${answers.length - SHOW} more` : "");
  const head = `${ctx.host} resolves to ${shown}${via} in ${fmtMs(ms)}`;
  if (expect !== undefined && !answers.includes(canonicalIP(expect))) {
    return fail(`${head}, not to the expected ${expect}`, perf);
  }
  return ok(head, perf);
});
