/**
 * The Tentacle protocol as pure data: command parsing (a dispatch table built from the reference
 * server's own regular expressions), reply strings, name checks and the password digest.
 * No I/O here; everything is tested from plain strings.
 * @module
 */

/** The IANA port of Tentacle. */
export const DEFAULT_PORT = 41121;
/** Longest command line accepted, in bytes, without the `\n` (the reference reads 1 KiB blocks). */
export const MAX_LINE = 1024;

/**
 * Name of the capability probe. A dmonitor server answers `RECV <.dmonitor-tentacle>` with its
 * extension list; a reference server answers `RECV ERR (file does not exist)` and carries on, so
 * the probe never costs a reference peer an unknown command. See README.md, "Extension".
 */
export const PROBE_NAME = ".dmonitor-tentacle";
/** Names starting with this are reserved for the probe and for temporary files; never served. */
export const RESERVED_PREFIX = ".dmonitor";
/** First line of the probe body; the version of the extension protocol. */
export const PROBE_MAGIC = "dmonitor-tentacle 1";
/** Feature name of the safe move (delete only after the puller confirms length and SHA-256). */
export const FEATURE_SMV = "smv";
/** Unconfirmed safe moves one connection may hold at once. */
export const MAX_LEASES = 256;

/** A parsed command line. `unknown` closes the connection, as the reference does. */
export type Command =
  | { kind: "PASS"; digest: string }
  | { kind: "SEND"; name: string; size: number }
  | { kind: "ZSEND"; name: string; size: number }
  | { kind: "RECV"; name: string }
  | { kind: "ZRECV"; name: string }
  | { kind: "LS"; name: string }
  | { kind: "MV"; name: string }
  | { kind: "SMV"; name: string }
  | { kind: "SMVDONE"; name: string; size: number; sha256: string }
  | { kind: "QUIT" }
  | { kind: "unknown"; line: string };

type Rule = [RegExp, (m: RegExpMatchArray) => Command];

// The reference's regexes, in its order; `[^]` stands for Perl's `.` (no `\n` can occur in a line).
const RULES: Rule[] = [
  [/^SEND <([^]*)> SIZE (\d+)$/, (m) => ({ kind: "SEND", name: m[1]!, size: toSize(m[2]!) })],
  [/^RECV <([^]*)>$/, (m) => ({ kind: "RECV", name: m[1]! })],
  [/^ZSEND <([^]*)> SIZE (\d+)$/, (m) => ({ kind: "ZSEND", name: m[1]!, size: toSize(m[2]!) })],
  [/^ZRECV <([^]*)>$/, (m) => ({ kind: "ZRECV", name: m[1]! })],
  [/^QUIT$/, () => ({ kind: "QUIT" })],
  [/^LS <([^]*)>$/, (m) => ({ kind: "LS", name: m[1]! })],
  [/^MV <([^]*)>$/, (m) => ({ kind: "MV", name: m[1]! })],
  [/^SMV <([^]*)>$/, (m) => ({ kind: "SMV", name: m[1]! })],
  [
    /^SMV DONE <([^]*)> SIZE (\d+) SHA256 ([0-9a-f]{64})$/,
    (m) => ({ kind: "SMVDONE", name: m[1]!, size: toSize(m[2]!), sha256: m[3]! }),
  ],
  [/^PASS ([^]*)$/, (m) => ({ kind: "PASS", digest: m[1]! })],
];

/** Sizes beyond 2^53 cannot be exact, but every such size is refused as too big anyway. */
function toSize(digits: string): number {
  return Number(digits);
}

/** Parses one command line (without its `\n`; a trailing `\r` must already be gone). */
export function parseCommand(line: string): Command {
  for (const [re, build] of RULES) {
    const m = line.match(re);
    if (m) return build(m);
  }
  return { kind: "unknown", line };
}

/** Every reply string the server sends, in one place. */
export const Reply = {
  passOk: "PASS OK",
  sendOk: "SEND OK",
  sendInvalidName: "SEND ERR (invalid file name)",
  sendTooBig: "SEND ERR (file is too big)",
  sendExists: "SEND ERR (file already exists)",
  zsendOk: "ZSEND OK",
  zsendInvalidName: "ZSEND ERR (invalid file name)",
  zsendTooBig: "ZSEND ERR (file is too big)",
  zsendExists: "ZSEND ERR (file already exists)",
  zsendErr: "ZSEND ERR",
  recvSize: (n: number) => `RECV SIZE ${n}`,
  recvInvalidName: "RECV ERR (file has an invalid file name)",
  recvMissing: "RECV ERR (file does not exist)",
  zrecvSize: (n: number) => `ZRECV SIZE ${n}`,
  zrecvInvalidName: "ZRECV ERR (file has an invalid file name)",
  zrecvMissing: "ZRECV ERR (file does not exist)",
  lsSize: (n: number) => `LS SIZE ${n}`,
  lsErr: "LS ERR",
  mvSize: (n: number) => `MV SIZE ${n}`,
  mvErr: "MV ERR",
  smvSize: (n: number) => `SMV SIZE ${n}`,
  smvErr: "SMV ERR",
  smvTooMany: "SMV ERR (too many unconfirmed)",
  smvDeleted: "SMV DELETED",
  smvKept: (why: string) => `SMV KEPT (${why})`,
  /** What the reference sends when it cannot compress a file for ZRECV. */
  quit: "QUIT",
} as const;

/** The client's go-ahead for each command that announces a size. */
export const Ack = {
  RECV: "RECV OK",
  ZRECV: "ZRECV OK",
  LS: "LS OK",
  MV: "MV OK",
} as const;

/** The puller's confirmation of a safe move: it stored `size` bytes with this SHA-256. */
export function smvDone(name: string, size: number, sha256: string): string {
  return `SMV DONE <${name}> SIZE ${size} SHA256 ${sha256}`;
}

/** The reply a server at its connection cap gives to a first command, or null (just close). */
export function busyReply(cmd: Command): string | null {
  switch (cmd.kind) {
    case "SEND":
    case "ZSEND":
    case "RECV":
    case "ZRECV":
    case "SMV":
      return `${cmd.kind} ERR (server busy)`;
    case "LS":
      return Reply.lsErr;
    case "MV":
      return Reply.mvErr;
    default:
      return null;
  }
}

/** True for a reply that a busy server gives; the caller may retry later. */
export function isBusyReply(reply: string): boolean {
  return reply.endsWith(" ERR (server busy)");
}

/** The reference's invalid name characters: `? [ ] / \ = + < > : ; ' , * ~`. */
export const REFERENCE_INVALID = /[?[\]/\\=+<>:;',*~]/;
// C0 and C1 control characters, DEL, and U+FFFD (what undecodable bytes turn into).
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\ufffd]/;
const MAX_NAME_BYTES = 255;

/**
 * Why a file name is refused, or null when it is acceptable. Stricter than the reference: also
 * refuses empty names, `.` and `..`, control characters, a trailing `|` (Perl's pipe-open), leading
 * or trailing spaces, names longer than 255 bytes and names reserved for dmonitor's own files.
 */
export function checkName(name: string): string | null {
  if (name === "") return "empty name";
  if (name === "." || name === "..") return "relative directory name";
  if (REFERENCE_INVALID.test(name)) return "invalid character";
  if (CONTROL.test(name)) return "control character";
  if (name.endsWith("|")) return "trailing |";
  if (name !== name.trim()) return "leading or trailing space";
  if (name.startsWith(RESERVED_PREFIX)) return "reserved name";
  if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) return "name too long";
  return null;
}

/**
 * Checks the argument of `LS`. It never touches the file system (it only picks a directory through
 * the filters), so like the reference it may be empty or `.`; only the reference's invalid
 * characters and control characters are refused.
 */
export function checkListFilter(filter: string): string | null {
  if (REFERENCE_INVALID.test(filter)) return "invalid character";
  if (CONTROL.test(filter)) return "control character";
  return null;
}

/** Whether a directory entry may appear in an `LS` answer (only names the server would serve). */
export function listable(entry: string): boolean {
  return checkName(entry) === null;
}

/** One `-i` filter: names matching `regex` (unanchored) go to the `dir` subdirectory. */
export interface Filter {
  regex: RegExp;
  dir: string;
}

/**
 * Parses `-i "regex:dir;regex:dir"` exactly as the reference splits it (Perl `split` drops
 * trailing empty fields; an entry without both parts is skipped; one trailing `/` is removed from
 * the directory). Throws when a regex does not compile or a directory would leave the storage.
 */
export function parseFilters(spec: string): Filter[] {
  const out: Filter[] = [];
  for (const entry of perlSplit(spec, ";")) {
    const [src, rawDir] = perlSplit(entry, ":");
    if (src === undefined || rawDir === undefined) continue;
    const dir = rawDir.endsWith("/") ? rawDir.slice(0, -1) : rawDir;
    if (dir.split("/").some((seg) => seg === "..")) {
      throw new Error(`filter '${entry}': directory '${dir}' must stay inside the storage`);
    }
    let regex: RegExp;
    try {
      regex = new RegExp(src);
    } catch (e) {
      throw new Error(`filter '${entry}': invalid regular expression: ${(e as Error).message}`);
    }
    out.push({ regex, dir });
  }
  return out;
}

/** Perl's `split(/sep/, s)`: trailing empty fields are removed. */
function perlSplit(s: string, sep: string): string[] {
  const parts = s.split(sep);
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** The subdirectory a name is routed to ("" for the storage root): the first matching filter. */
export function routeName(filters: readonly Filter[], name: string): string {
  for (const f of filters) {
    f.regex.lastIndex = 0;
    if (f.regex.test(name)) return f.dir;
  }
  return "";
}

/** Parses a probe body: the feature set of a dmonitor server, or null if it is not one. */
export function parseProbe(body: string): Set<string> | null {
  const lines = body.split("\n");
  if (lines[0] !== PROBE_MAGIC) return null;
  return new Set(lines.slice(1).filter((l) => /^[a-z0-9-]+$/.test(l)));
}

/** Builds the probe body a dmonitor server sends. */
export function probeBody(features: Iterable<string>): string {
  return [PROBE_MAGIC, ...features].map((l) => l + "\n").join("");
}
