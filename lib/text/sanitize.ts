/**
 * Text that came from someone else (a plugin's output, a peer's vote, a site's report) is made
 * safe for a terminal or a log line: terminal control sequences are removed whole, so a plugin
 * cannot clear the operator's screen, retitle the window, or write the clipboard (OSC 52).
 * @module
 */

/**
 * Whole escape sequences, 7-bit (ESC ...) and 8-bit (C1) forms:
 * - CSI `ESC [` / 0x9b: parameters 0x30-0x3f, intermediates 0x20-0x2f, one final byte 0x40-0x7e;
 * - OSC `ESC ]` / 0x9d, DCS `ESC P` / 0x90, SOS `ESC X` / 0x98, PM `ESC ^` / 0x9e, APC `ESC _` /
 *   0x9f: a string up to BEL, ST (`ESC \` or 0x9c), or the end of the text when unterminated;
 * - any other `ESC` followed by intermediates and one final byte (`ESC c` resets the terminal).
 * A CSI cut short by the end of the text is removed as far as it goes.
 */
const SEQUENCE = new RegExp(
  [
    "(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?",
    "(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[\\s\\S]*?(?:\\x07|\\x1b\\\\|\\x9c|$)",
    "\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?",
  ].join("|"),
  "g",
);

/** Single control characters left after the sequences: C0 (but \t and \n), DEL, C1. */
// deno-lint-ignore no-control-regex
const CONTROL_KEEP_LINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * Removes terminal control sequences and control characters from `s`.
 *
 * `lines: false` (the default) makes one line: tabs, CR and LF become a space each, so the text
 * fits a table cell or a log value. `lines: true` keeps `\n` and `\t` and turns CRLF into LF; a
 * lone CR (which would let a line overwrite itself) is removed. Everything printable, including
 * non-ASCII text, is kept as it was.
 * @example
 * sanitizeText("ok\x1b[2J done") // "ok done"
 */
export function sanitizeText(s: string, opts: { lines?: boolean } = {}): string {
  // Fast path: most plugin output is plain text.
  // deno-lint-ignore no-control-regex
  if (!/[\x00-\x1f\x7f-\x9f]/.test(s)) return s;
  const stripped = s.replace(SEQUENCE, "");
  if (opts.lines) {
    return stripped.replace(/\r\n/g, "\n").replace(CONTROL_KEEP_LINES, "");
  }
  return stripped.replace(/[\t\r\n]/g, " ").replace(CONTROL, "");
}

/**
 * A copy of `value` with every string in it (deeply, through arrays and plain objects) passed
 * through {@link sanitizeText}; other values are kept. For views that came over the network.
 */
export function sanitizeDeep<T>(value: T, opts: { lines?: boolean } = {}): T {
  if (typeof value === "string") return sanitizeText(value, opts) as T;
  if (Array.isArray(value)) return value.map((v) => sanitizeDeep(v, opts)) as T;
  if (value !== null && typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = sanitizeDeep(v, opts);
    return out as T;
  }
  return value;
}
