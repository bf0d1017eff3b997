/**
 * Pure interpretation of what a plugin printed and how it exited.
 *
 * Contract detection (the one place it is decided; user docs should quote this):
 *
 * - **dmonitor contract**: the first word of the first stdout line (leading blanks allowed) is
 *   exactly `OK` or `FAIL`, upper-case, followed by a blank or the end of the line. That word
 *   alone decides the state; the exit code is ignored. The original dmonitor defined a result by
 *   that line only, and shell scripts often exit with whatever their last command returned
 *   (`echo OK; [ -n "$debug" ] && ...` exits 1), so honouring the exit code would turn working
 *   scripts from the original tree into false alarms. `OK:` or `ok` do not count, so Nagios plugins
 *   that print `OK: ...` stay on the Nagios path, where exit 0 gives the same answer anyway.
 * - **Nagios contract** (everything else): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; any other
 *   code, or death by a signal, is UNKNOWN. Empty output with exit 0 is OK.
 *
 * In both, the first line's text before `|` is the summary and the text after it perfdata; later
 * lines are Nagios long output up to the next `|`, after which everything is more perfdata. For the
 * dmonitor contract the `OK`/`FAIL` word is dropped from the summary (the status already says it).
 * When stdout has no text and the state is not OK, stderr stands in for the output, so a script's
 * `foo: not found` reaches the user. When stdout has text and the check fails, stderr is appended to
 * the output as ` [stderr: ...]` (stderr gets up to half of the output's 1 KiB, so a long usage text
 * cannot push out the real reason); it is always kept on its own in `stderr`.
 *
 * Text after `|` is perfdata only when it holds at least one well-formed item (lib/runner/perfdata.ts),
 * and for UNKNOWN only when every item is well-formed: a usage message such as check_disk's
 * `{-p path | -x device}` stays text and yields no perfdata.
 *
 * Mapping to {@link Status}: OK passes; WARNING passes unless `warning: fail`; UNKNOWN fails unless
 * `unknown: pass`; FAIL, CRITICAL and ERROR fail; TIMEOUT is its own failing status.
 * @module
 */
import { parsePerfdata } from "./perfdata.ts";
import type { RawState, Status } from "./result.ts";

/** Longest `output` or `perfdata` kept in a result, in UTF-8 bytes. */
export const MAX_LINE_BYTES = 1024;

export interface ParseOptions {
  /** How Nagios WARNING counts (default "pass"). */
  warning?: "pass" | "fail";
  /** How Nagios UNKNOWN counts (default "fail"). */
  unknown?: "pass" | "fail";
  /** Captured stderr, used as the output when stdout has no text and the state is not OK. */
  stderr?: Uint8Array | string;
  /** The signal that ended the plugin when `exitCode` is null, e.g. "SIGSEGV". */
  signal?: string | null;
}

export interface ParsedOutput {
  status: Status;
  state: RawState;
  /** One printable line, at most {@link MAX_LINE_BYTES} bytes. */
  output: string;
  /** Nagios perfdata joined by spaces, at most {@link MAX_LINE_BYTES} bytes; "" when none. */
  perfdata: string;
  /** Stderr as one line, at most {@link MAX_LINE_BYTES} bytes; "" when none. */
  stderr?: string;
  contract: "dmonitor" | "nagios";
}

const NAGIOS_STATES: readonly RawState[] = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];
const DMONITOR_WORD = /^[ \t]*(OK|FAIL)(?:[ \t]+|$)/;

/** Maps a raw state to the pass/fail status, honouring the `warning`/`unknown` settings. */
export function statusOf(
  state: RawState,
  opts: Pick<ParseOptions, "warning" | "unknown"> = {},
): Status {
  switch (state) {
    case "OK":
      return "OK";
    case "WARNING":
      return (opts.warning ?? "pass") === "pass" ? "OK" : "FAIL";
    case "UNKNOWN":
      return (opts.unknown ?? "fail") === "pass" ? "OK" : "FAIL";
    case "TIMEOUT":
      return "TIMEOUT";
    default:
      return "FAIL";
  }
}

/**
 * Decides a plugin's state from its stdout and exit code (null when killed by a signal).
 *
 * @example
 * ```ts
 * parsePluginOutput("DISK WARNING - 91% | used=91%\n", 1, {});
 * // { status: "OK", state: "WARNING", output: "DISK WARNING - 91%", perfdata: "used=91%", ... }
 * ```
 */
export function parsePluginOutput(
  stdout: Uint8Array | string,
  exitCode: number | null,
  opts: ParseOptions = {},
): ParsedOutput {
  const lines = splitLines(decode(stdout));
  const first = lines[0] ?? "";
  const word = DMONITOR_WORD.exec(first);
  let state: RawState;
  let contract: ParsedOutput["contract"];
  let note = "";
  if (word) {
    contract = "dmonitor";
    state = word[1] === "OK" ? "OK" : "FAIL";
    lines[0] = first.slice(word[0].length);
  } else {
    contract = "nagios";
    const known = exitCode === null ? undefined : NAGIOS_STATES[exitCode];
    state = known ?? "UNKNOWN";
    if (exitCode === null) note = `killed by ${opts.signal ?? "a signal"}`;
    else if (!known) note = `exit code ${exitCode}`;
  }
  let { text, perfdata } = splitNagios(lines);
  if (perfdata !== "") {
    const p = parsePerfdata(perfdata);
    if (p.items.length === 0 || (state === "UNKNOWN" && p.skipped > 0)) {
      text = lines.map(sanitizeLine).filter((t) => t !== "").join(" / ");
      perfdata = "";
    }
  }
  const status = statusOf(state, opts);
  const errText = opts.stderr === undefined ? "" : oneLine(opts.stderr);
  let output = text;
  if (!output && state !== "OK") {
    output = errText;
  } else if (output && errText && status !== "OK") {
    const tail = ` [stderr: ${capBytes(errText, MAX_LINE_BYTES / 2)}]`;
    output = capBytes(output, MAX_LINE_BYTES - encoder.encode(tail).length) + tail;
  }
  if (note) output = output ? `${note}: ${output}` : note;
  const parsed: ParsedOutput = {
    status,
    state,
    output: capBytes(output, MAX_LINE_BYTES),
    perfdata: capBytes(perfdata, MAX_LINE_BYTES),
    contract,
  };
  if (errText) parsed.stderr = errText;
  return parsed;
}

/** Splits Nagios output lines into one-line text (summary / long output) and perfdata. */
function splitNagios(lines: string[]): { text: string; perfdata: string } {
  const texts: string[] = [];
  const perf: string[] = [];
  const [first = "", ...rest] = lines;
  const bar = first.indexOf("|");
  texts.push(bar < 0 ? first : first.slice(0, bar));
  if (bar >= 0) perf.push(first.slice(bar + 1));
  let inPerf = false;
  for (const line of rest) {
    if (inPerf) {
      perf.push(line);
      continue;
    }
    const i = line.indexOf("|");
    if (i < 0) {
      texts.push(line);
    } else {
      texts.push(line.slice(0, i));
      perf.push(line.slice(i + 1));
      inPerf = true;
    }
  }
  const text = texts.map(sanitizeLine).filter((t) => t !== "").join(" / ");
  return { text, perfdata: sanitizeLine(perf.join(" ")) };
}

/** All of `text` as one sanitised line (lines joined by " / "), capped like a result's output. */
export function oneLine(text: Uint8Array | string): string {
  const parts = splitLines(decode(text)).map(sanitizeLine).filter((t) => t !== "");
  return capBytes(parts.join(" / "), MAX_LINE_BYTES);
}

const decoder = new TextDecoder("utf-8", { fatal: false });

function decode(b: Uint8Array | string): string {
  return typeof b === "string" ? b : decoder.decode(b);
}

function splitLines(s: string): string[] {
  const lines = s.split(/\r\n|\n|\r/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  return lines;
}

/**
 * Makes text safe to show on one line: control, format (bidi overrides, zero-width), private-use
 * and unassigned characters and undecodable bytes become `?`, whitespace runs one space.
 */
export function sanitizeLine(s: string): string {
  return s
    .replace(/[\t\n\v\f\r\u0085\u2028\u2029]/g, " ")
    .replace(/[\p{C}\ufffd]+/gu, "?")
    .replace(/\s+/g, " ")
    .trim();
}

const encoder = new TextEncoder();

/** Cuts `s` to at most `max` UTF-8 bytes on a character boundary, marking the cut with `...`. */
export function capBytes(s: string, max: number): string {
  if (encoder.encode(s).length <= max) return s;
  let out = "";
  let bytes = 0;
  for (const ch of s) {
    const n = encoder.encode(ch).length;
    if (bytes + n > max - 3) break;
    out += ch;
    bytes += n;
  }
  return out + "...";
}
