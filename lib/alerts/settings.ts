/**
 * Parses what lib/alerts owns in the config tree, purely: the `smtp:` section of dmonitor.yaml
 * and the `alert.d/<name>.webhook` / `.command` / `.alertmanager` files. Every problem names the file,
 * the key and the value; all problems are returned together.
 * @module
 */
import { parseDuration as parseTreeDuration } from "../config/values.ts";
import type { BaseConfig, SectionParser, Settings } from "../config/types.ts";
import type { ConfigProblem } from "../errors/mod.ts";
import { decodeYaml } from "../config/yaml.ts";
import { parseRoute, type Route, type RoutedTarget } from "./route.ts";
import type { Target } from "./types.ts";

export type StartTls = "required" | "opportunistic" | "off";

/** `smtp:` in dmonitor.yaml, defaulted. Paths are absolute (relative ones resolve in the tree). */
export interface SmtpSettings {
  host: string;
  port: number;
  /** Implicit TLS from the first byte (port 465 style). */
  secure: boolean;
  starttls: StartTls;
  user: string | null;
  password: string | null;
  passwordFile: string | null;
  from: string;
  /** PEM file of a private CA that signs the server's certificate. */
  ca: string | null;
  /** Connect, greeting and idle timeout, ms. */
  timeout: number;
}

export interface WebhookTarget {
  name: string;
  url: string;
  /** `alert.d/<name>.webhook`. */
  file: string;
}

export interface CommandTarget {
  name: string;
  /** Absolute path of `alert.d/<name>.command`, the executable itself. */
  path: string;
  file: string;
}

export interface AlertmanagerTarget {
  name: string;
  /** Base URLs (`http://127.0.0.1:9093/`); every one gets every post (an HA pair). */
  urls: string[];
  /** `alert.d/<name>.alertmanager`. */
  file: string;
}

/** Everything the alert part needs from the configuration. */
export interface AlertSettings {
  /** Absolute config root. */
  root: string;
  /** This node's name: the notifier in test messages, the default sender's domain. */
  node: string;
  /** User alert commands run as when dmonitor runs as root. */
  pluginUser: string;
  smtp: SmtpSettings;
  emails: string[];
  webhooks: WebhookTarget[];
  commands: CommandTarget[];
  alertmanagers: AlertmanagerTarget[];
  /** Routes of the entries that have one, by target key (`command:pager`); absent: everything. */
  routes: Record<string, Route>;
}

/** The parts of the base configuration this module reads. */
export type AlertConfigInput = Pick<BaseConfig, "root" | "recipients" | "alertFiles"> & {
  settings: Pick<Settings, "node" | "plugin_user">;
};

const FILE = "dmonitor.yaml";
const SMTP_KEYS = [
  "host",
  "port",
  "secure",
  "starttls",
  "user",
  "password",
  "password_file",
  "from",
  "ca",
  "timeout",
];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ADDRESS = /^[^\s@<>"]+@[^\s@<>"]+$/;

/** A duration as everywhere in the tree (lib/config): `500ms`, `30s`, `2m`, `1h`, or seconds; null
 * when invalid or not positive. */
export function parseDuration(v: unknown): number | null {
  const r = parseTreeDuration(v, 1, 86_400_000);
  return r.ok ? r.value : null;
}

/** The address inside `Name <addr>` or a bare `addr`; null when it is neither. */
export function mailboxAddress(from: string): string | null {
  const m = /^[^<>]*<([^<>]+)>$/.exec(from.trim());
  const addr = (m ? m[1]! : from).trim();
  return ADDRESS.test(addr) ? addr : null;
}

function resolvePath(root: string, p: string): string {
  return p.startsWith("/") ? p : `${root.replace(/\/+$/, "")}/${p}`;
}

function got(v: unknown): string {
  return `got ${JSON.stringify(v) ?? String(v)}`;
}

function parseSmtp(
  raw: unknown,
  root: string,
  node: string,
  problems: ConfigProblem[],
): SmtpSettings {
  const bad = (key: string, message: string) =>
    problems.push({ file: FILE, key: `smtp.${key}`, message });
  const s: Record<string, unknown> = {};
  if (raw !== undefined && raw !== null) {
    if (typeof raw !== "object" || Array.isArray(raw)) {
      problems.push({ file: FILE, key: "smtp", message: `must be a mapping, ${got(raw)}` });
    } else Object.assign(s, raw);
  }
  for (const k of Object.keys(s)) {
    if (!SMTP_KEYS.includes(k)) bad(k, `is not a known key (known: ${SMTP_KEYS.join(", ")})`);
  }
  const str = (key: string): string | null => {
    const v = s[key];
    if (v === undefined || v === null) return null;
    if (typeof v === "string" && v.trim() !== "") return v.trim();
    bad(key, `must be a non-empty string, ${got(v)}`);
    return null;
  };
  const host = str("host") ?? "localhost";
  if (/[\s/]/.test(host) || host.startsWith("-")) {
    bad("host", `must be a host name or IP, ${got(host)}`);
  }
  let secure = false;
  if (s.secure !== undefined) {
    if (typeof s.secure === "boolean") secure = s.secure;
    else bad("secure", `must be true or false, ${got(s.secure)}`);
  }
  let port = secure ? 465 : 25;
  if (s.port !== undefined) {
    const p = s.port;
    if (typeof p === "number" && Number.isInteger(p) && p >= 1 && p <= 65535) port = p;
    else bad("port", `must be 1-65535, ${got(p)}`);
  }
  const user = str("user");
  const password = str("password");
  const passwordFile = str("password_file");
  if (password !== null && passwordFile !== null) {
    bad("password_file", "cannot be used together with 'smtp.password'");
  }
  if (user !== null && password === null && passwordFile === null) {
    bad("user", `needs 'smtp.password' or 'smtp.password_file', ${got(user)}`);
  }
  if (user === null && (password !== null || passwordFile !== null)) {
    bad(password !== null ? "password" : "password_file", "needs 'smtp.user'");
  }
  // Credentials must never cross the network in clear or to an unverified server, so with a
  // user the default is to require a verified STARTTLS.
  let starttls: StartTls = user !== null ? "required" : "opportunistic";
  if (s.starttls !== undefined) {
    if (s.starttls === "required" || s.starttls === "opportunistic" || s.starttls === "off") {
      starttls = s.starttls;
    } else bad("starttls", `must be required, opportunistic or off, ${got(s.starttls)}`);
  }
  const from = str("from") ?? `dmonitor@${node}`;
  if (mailboxAddress(from) === null) {
    bad("from", `must be an address like dmonitor@example.com or "Name <addr>", ${got(from)}`);
  }
  const ca = str("ca");
  let timeout = 30_000;
  if (s.timeout !== undefined) {
    const t = parseDuration(s.timeout);
    if (t === null) bad("timeout", `must be a duration such as 30s, ${got(s.timeout)}`);
    else timeout = t;
  }
  return {
    host,
    port,
    secure,
    starttls,
    user,
    password,
    passwordFile: passwordFile === null ? null : resolvePath(root, passwordFile),
    from,
    ca: ca === null ? null : resolvePath(root, ca),
    timeout,
  };
}

/**
 * Parses a webhook file: its first line is the http(s) URL; the lines after it may hold a route
 * (YAML `hosts:`, `tests:`, `sites:`, `kinds:`, `min_duration:`). Blank lines and `#` comments are
 * ignored. `route` is the raw route text with the URL line blanked (line numbers kept), or null.
 */
export function parseWebhookFile(
  contents: string,
): { url: string; route: string | null } | { error: string } {
  const all = contents.split(/\r?\n/);
  const used = (l: string) => l.trim() !== "" && !l.trim().startsWith("#");
  const first = all.findIndex(used);
  if (first === -1) return { error: "must contain exactly one URL line, got 0" };
  const rest = all.slice(first + 1);
  const urlLines = rest.filter((l) => used(l) && /^\s*[a-z][a-z0-9+.-]*:\/\//i.test(l));
  if (urlLines.length > 0) {
    return { error: `must contain exactly one URL line, got ${urlLines.length + 1}` };
  }
  const u = httpUrl(all[first]!.trim());
  if ("error" in u) return u;
  const route = rest.some(used)
    ? [...all.slice(0, first + 1).map(() => ""), ...rest].join("\n")
    : null;
  return { url: u.url, route };
}

/** The http(s) URL on one line, or why not. */
function httpUrl(line: string): { url: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(line);
  } catch {
    return { error: `must contain an http or https URL, got ${JSON.stringify(line)}` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { error: `must contain an http or https URL, got ${JSON.stringify(line)}` };
  }
  return { url: url.href };
}

/**
 * Parses an Alertmanager file: one or more http(s) base URLs, one a line (blank lines and `#`
 * comments ignored), e.g. `http://10.0.0.5:9093/`; duplicates are an error, not a double post.
 */
export function parseAlertmanagerFile(contents: string): { urls: string[] } | { error: string } {
  const lines = contents.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (lines.length === 0) return { error: "must contain at least one Alertmanager URL, got none" };
  const urls: string[] = [];
  for (const line of lines) {
    const r = httpUrl(line);
    if ("error" in r) return r;
    if (r.url.includes("?") || r.url.includes("#")) {
      return { error: `must be a base URL without query or fragment, got ${JSON.stringify(line)}` };
    }
    const base = r.url.endsWith("/") ? r.url : r.url + "/";
    if (urls.includes(base)) return { error: `lists ${JSON.stringify(line)} twice` };
    urls.push(base);
  }
  return { urls };
}

/**
 * Parses the alert settings: the raw `smtp:` section and the alert.d/ entries of the
 * configuration; `problems` is empty when all is well.
 * @example
 * const { settings, problems } = parseAlertSettings(raw.smtp, config);
 * if (problems.length) throw new ConfigError(problems);
 */
export function parseAlertSettings(
  rawSmtp: unknown,
  config: AlertConfigInput,
): { settings: AlertSettings; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const smtp = parseSmtp(
    rawSmtp,
    config.root,
    config.settings.node,
    problems,
  );
  const webhooks: WebhookTarget[] = [];
  const commands: CommandTarget[] = [];
  const alertmanagers: AlertmanagerTarget[] = [];
  const routes: Record<string, Route> = {};
  const route = (key: string, file: string, text: string) => {
    const raw = decodeYaml(text, file, problems);
    if (raw !== null) routes[key] = parseRoute(raw, file, problems);
  };
  for (const r of config.recipients) route(`email:${r.address}`, r.file, r.content ?? "");
  const routeFiles: [string, string, string][] = [];
  for (const [key, contents] of Object.entries(config.alertFiles)) {
    const base = key.replace(/^alert\.d\//, "");
    const file = `alert.d/${base}`;
    if (base.endsWith(".command.route")) {
      routeFiles.push([base.slice(0, -".command.route".length), file, contents]);
      continue;
    }
    const m = /^(.*)\.(webhook|command|alertmanager)$/.exec(base);
    if (!m) {
      problems.push({
        file,
        key: "",
        message:
          "is neither an email address nor a <name>.webhook, <name>.command or <name>.alertmanager file",
      });
      continue;
    }
    const [, name, kind] = m as unknown as [string, string, string];
    if (!NAME.test(name)) {
      problems.push({
        file,
        key: "",
        message: `name must be letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`,
      });
      continue;
    }
    if (kind === "command") {
      commands.push({ name, file, path: resolvePath(config.root, file) });
      continue;
    }
    if (kind === "alertmanager") {
      const am = parseAlertmanagerFile(contents);
      if ("error" in am) problems.push({ file, key: "", message: am.error });
      else alertmanagers.push({ name, file, urls: am.urls });
      continue;
    }
    const parsed = parseWebhookFile(contents);
    if ("error" in parsed) problems.push({ file, key: "", message: parsed.error });
    else {
      webhooks.push({ name, file, url: parsed.url });
      if (parsed.route !== null) route(`webhook:${name}`, file, parsed.route);
    }
  }
  for (const [name, file, contents] of routeFiles) {
    if (!commands.some((c) => c.name === name)) {
      problems.push({
        file,
        key: "",
        message: `routes alert.d/${name}.command, which does not exist`,
      });
    } else route(`command:${name}`, file, contents);
  }
  const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
  return {
    settings: {
      root: config.root,
      node: config.settings.node,
      pluginUser: config.settings.plugin_user,
      smtp,
      emails: config.recipients.map((r) => r.address),
      webhooks: webhooks.sort(byName),
      commands: commands.sort(byName),
      alertmanagers: alertmanagers.sort(byName),
      routes,
    },
    problems,
  };
}

/** What lib/alerts owns in the tree (`smtp:` and alert.d/), for the node's configuration. */
export const alertSection: SectionParser<AlertSettings> = {
  key: "smtp",
  parse(raw, base, problems) {
    const r = parseAlertSettings(raw, base);
    problems.push(...r.problems);
    return r.settings;
  },
};

/** Every destination a notification goes to, in a stable order: emails, webhooks, commands,
 * Alertmanagers; an entry with a route carries it (`route`). */
export function alertTargets(s: AlertSettings): RoutedTarget[] {
  const withRoute = (t: Target): RoutedTarget => {
    const route = s.routes?.[`${t.channel}:${t.name}`];
    return route ? { ...t, route } : t;
  };
  return [
    ...s.emails.map((name) => ({ channel: "email" as const, name })),
    ...s.webhooks.map(({ name }) => ({ channel: "webhook" as const, name })),
    ...s.commands.map(({ name }) => ({ channel: "command" as const, name })),
    ...s.alertmanagers.map(({ name }) => ({ channel: "alertmanager" as const, name })),
  ].map(withRoute);
}
