/**
 * Pure parser for Nagios performance data, after the plugin guidelines
 * (https://nagios-plugins.org/doc/guidelines.html#AEN200):
 *
 * ```
 * 'label'=value[UOM];[warn];[crit];[min];[max]
 * ```
 *
 * Items are separated by blanks. A label may be quoted with `'` (then it may hold blanks, and `''`
 * stands for one `'`). The UOM is kept as the plugin wrote it (`s`, `ms`, `us`, `%`, `B`, `KB`,
 * `MB`, `GB`, `TB`, `c`, none, or any other run of up to 8 letters); values are never converted.
 * `warn` and `crit` are ranges (`10`, `10:`, `~:10`, `@10:20`) and are kept as strings; `min`
 * and `max` are numbers (a field that is not a number becomes null). Trailing fields may be left
 * out. An item that does not fit (no `=`, an empty label, a value that is not a finite number, `U`
 * for "undetermined", an unclosed quote) is skipped and counted, never thrown. At most
 * {@link MAX_PERF_ITEMS} items are kept per check; the rest are counted as dropped, which bounds
 * the `/metrics` cardinality.
 * @module
 */

/** Items kept per check; more are dropped (and counted). */
export const MAX_PERF_ITEMS = 20;

export interface PerfItem {
  label: string;
  value: number;
  /** Unit of measure as written, "" for none. */
  unit: string;
  warn: string | null;
  crit: string | null;
  min: number | null;
  max: number | null;
}

export interface PerfParse {
  items: PerfItem[];
  /** Items that did not parse. */
  skipped: number;
  /** Well-formed items beyond the cap. */
  dropped: number;
}

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/;
const UNIT = /^[A-Za-z%]{0,8}$/;

/**
 * Parses perfdata text (the part after `|`, several lines joined by blanks).
 *
 * @example
 * ```ts
 * parsePerfdata("'/ used'=2643MB;5948;5958;0;5968 time=0.1s");
 * // { items: [{ label: "/ used", value: 2643, unit: "MB", warn: "5948", crit: "5958", min: 0,
 * //   max: 5968 }, { label: "time", value: 0.1, unit: "s", warn: null, ... }], skipped: 0, dropped: 0 }
 * ```
 */
export function parsePerfdata(text: string, max = MAX_PERF_ITEMS): PerfParse {
  const out: PerfParse = { items: [], skipped: 0, dropped: 0 };
  let i = 0;
  const n = text.length;
  const isBlank = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r";
  while (i < n) {
    while (i < n && isBlank(text[i])) i++;
    if (i >= n) break;
    let label: string | null = null;
    if (text[i] === "'") {
      let j = i + 1;
      let l = "";
      let closed = false;
      while (j < n) {
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            l += "'";
            j += 2;
            continue;
          }
          closed = true;
          j++;
          break;
        }
        l += text[j];
        j++;
      }
      if (closed && text[j] === "=") {
        label = l;
        i = j + 1;
      } else {
        // Unclosed quote or no `=` after it: skip to the next blank.
        i = closed ? j : n;
        while (i < n && !isBlank(text[i])) i++;
        out.skipped++;
        continue;
      }
    } else {
      let j = i;
      while (j < n && !isBlank(text[j]) && text[j] !== "=") j++;
      if (text[j] !== "=") {
        out.skipped++;
        i = j;
        continue;
      }
      label = text.slice(i, j);
      i = j + 1;
      if (label.includes("'")) label = "";
    }
    let j = i;
    while (j < n && !isBlank(text[j])) j++;
    const item = parseValue(label, text.slice(i, j));
    i = j;
    if (!item) out.skipped++;
    else if (out.items.length >= max) out.dropped++;
    else out.items.push(item);
  }
  return out;
}

function parseValue(label: string, spec: string): PerfItem | null {
  if (label === "") return null;
  const [first = "", warn = "", crit = "", min = "", max = ""] = spec.split(";");
  const m = NUMBER.exec(first);
  if (!m) return null;
  const unit = first.slice(m[0].length);
  const value = Number(m[0]);
  if (!Number.isFinite(value) || !UNIT.test(unit)) return null;
  return {
    label,
    value,
    unit,
    warn: warn === "" ? null : warn,
    crit: crit === "" ? null : crit,
    min: num(min),
    max: num(max),
  };
}

function num(s: string): number | null {
  const m = NUMBER.exec(s);
  if (!m || m[0].length !== s.length) return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

/**
 * One item back in perfdata syntax, trailing empty fields left out: `'/ used'=2643MB;5948;5958;0`.
 * Labels are quoted (with `''` for `'`) when they hold anything but letters, digits and `_./:-`.
 */
export function formatPerfItem(p: PerfItem): string {
  const label = /^[A-Za-z0-9_.\/:-]+$/.test(p.label)
    ? p.label
    : `'${p.label.replaceAll("'", "''")}'`;
  const fields = [`${p.value}${p.unit}`, p.warn ?? "", p.crit ?? "", p.min ?? "", p.max ?? ""]
    .map(String);
  while (fields.length > 1 && fields[fields.length - 1] === "") fields.pop();
  return `${label}=${fields.join(";")}`;
}
