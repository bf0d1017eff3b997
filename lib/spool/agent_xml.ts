/**
 * Pandora FMS agent data files, written purely: `<md5hex(agent)>.<unix time>.data` holding
 * `<agent_data>` with one `generic_proc` module per host+test (1 up, 0 down, the check's output as
 * description), the site's incident notifications as one `async_string` module, and the spool's
 * drop counter as a `generic_data` module. A real Pandora server ingests all of it as ordinary
 * modules; dmonitor's ingester (lib/sync) turns the incidents module back into notifications.
 *
 * Extra markup, all ignored by Pandora: the `dmonitor_time` (epoch ms written) and `dmonitor_site`
 * attributes on `<agent_data>`, `<dmonitor_at>` (epoch ms the check ran) and `<dmonitor_state>`
 * (OK, WARNING, CRITICAL, ...) inside result modules.
 * @module
 */
import { createHash } from "node:crypto";
import type { CheckResult } from "../runner/result.ts";
import type { Notification } from "../quorum/types.ts";

/** Name of the module that carries the site's incident notifications. */
export const INCIDENTS_MODULE = "dmonitor incidents";
/** Name of the module that carries how many spooled files were dropped (cumulative). */
export const DROPPED_MODULE = "dmonitor spool dropped";
/** Marker and version of the incidents module's JSON. */
export const INCIDENTS_FORMAT = 1;

export interface AgentFile {
  agentName: string;
  /** Epoch ms this file is written; the name uses its seconds. */
  time: number;
  /** Seconds, as Pandora's `interval` attribute. */
  intervalSec: number;
  version: string;
  site: string | null;
  group: string | null;
  results: CheckResult[];
  notifications: Notification[];
  /** Files dropped from the spool since this node started. */
  dropped: number;
}

/** `<md5hex(agent name)>.<unix time>.data`, the name Pandora agents use. */
export function dataFileName(agentName: string, unixSeconds: number): string {
  return `${md5hex(agentName)}.${unixSeconds}.data`;
}

export function md5hex(s: string | Uint8Array): string {
  return createHash("md5").update(s).digest("hex");
}

/** Matches our own data file names (and Pandora's `^(.*)[._]\d+\.data$`). */
export const DATA_FILE = /^(.+)[._](\d+)\.data$/;

/** Pandora's `timestamp` format, in UTC: `YYYY/MM/DD HH:MM:SS`. */
export function pandoraTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** Characters XML 1.0 forbids, and lone surrogates: replaced so a file always parses. */
const INVALID_XML =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function xmlSafe(s: string): string {
  return s.replace(INVALID_XML, "\ufffd");
}

/** An attribute value in single quotes, fully escaped (real agents do not; we do). */
export function attr(s: string): string {
  return "'" + xmlSafe(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/'/g, "&apos;").replace(/"/g, "&quot;") +
    "'";
}

/** A CDATA section; a `]]>` inside is split across two sections. */
export function cdata(s: string): string {
  return "<![CDATA[" + xmlSafe(s).replaceAll("]]>", "]]]]><![CDATA[>") + "]]>";
}

/** JSON that can never close a CDATA section or be read as markup. */
export function inertJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(
    /&/g,
    "\\u0026",
  );
}

/** The module name of a host+test. Neither may contain `/`, so the split is unambiguous. */
export function moduleName(host: string, test: string): string {
  return `${host}/${test}`;
}

/** Renders the data file (UTF-8 text). */
export function renderAgentData(f: AgentFile): string {
  const attrs: [string, string][] = [
    ["agent_name", f.agentName],
    ["agent_alias", f.agentName],
    ["description", f.site ? `dmonitor node of site ${f.site}` : "dmonitor node"],
    ["version", f.version],
    ["interval", String(Math.max(1, Math.round(f.intervalSec)))],
    ["timestamp", pandoraTimestamp(f.time)],
    ["timezone_offset", "0"],
    ["os_name", "dmonitor"],
  ];
  if (f.group) attrs.push(["group", f.group]);
  attrs.push(["dmonitor_time", String(f.time)]);
  if (f.site) attrs.push(["dmonitor_site", f.site]);
  const out = [
    "<?xml version='1.0' encoding='UTF-8'?>",
    `<agent_data ${attrs.map(([k, v]) => `${k}=${attr(v)}`).join(" ")}>`,
  ];
  for (const r of f.results) {
    out.push(
      "<module>",
      `  <name>${cdata(moduleName(r.host, r.test))}</name>`,
      "  <type>generic_proc</type>",
      `  <data>${cdata(r.status === "OK" ? "1" : "0")}</data>`,
      `  <description>${cdata(r.output)}</description>`,
      `  <dmonitor_at>${r.startedAt}</dmonitor_at>`,
      `  <dmonitor_state>${r.state}</dmonitor_state>`,
      "</module>",
    );
  }
  if (f.notifications.length > 0) {
    const body = inertJson({ dmonitor: INCIDENTS_FORMAT, notifications: f.notifications });
    out.push(
      "<module>",
      `  <name>${cdata(INCIDENTS_MODULE)}</name>`,
      "  <type>async_string</type>",
      `  <data>${cdata(body)}</data>`,
      `  <description>${cdata("dmonitor incident notifications of this site")}</description>`,
      "</module>",
    );
  }
  out.push(
    "<module>",
    `  <name>${cdata(DROPPED_MODULE)}</name>`,
    "  <type>generic_data</type>",
    `  <data>${cdata(String(f.dropped))}</data>`,
    "</module>",
    "</agent_data>",
    "",
  );
  return out.join("\n");
}
