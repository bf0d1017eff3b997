/**
 * One line per event on stderr: `level component message key=value ...`. No timestamps by
 * default because journald adds them; `DMONITOR_LOG_TIME=1` adds an ISO time for plain terminals.
 * @module
 */

import { sanitizeText } from "../text/mod.ts";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, string | number | boolean | undefined | null>;

/** A structured logger; `child` adds a component name. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(component: string): Logger;
}

/**
 * Quotes a value when it holds spaces, quotes or control characters, so a line stays one line.
 * Terminal control sequences and control characters (from a plugin's or a peer's text) are
 * removed first; newlines and tabs are kept, escaped by the quoting.
 */
export function formatValue(v: string | number | boolean): string {
  const s = typeof v === "string" ? sanitizeText(v, { lines: true }) : String(v);
  // deno-lint-ignore no-control-regex
  return /^[^\s"=\\\x00-\x1f\x7f-\x9f]+$/.test(s) ? s : JSON.stringify(s);
}

/** Formats one log line (pure; exported for tests). */
export function formatLine(level: Level, component: string, msg: string, fields?: Fields): string {
  const parts = [level.toUpperCase(), component, sanitizeText(msg.replace(/[\r\n]+/g, " "))];
  for (const [k, v] of Object.entries(fields ?? {})) {
    if (v === undefined || v === null) continue;
    parts.push(`${k}=${formatValue(v)}`);
  }
  return parts.join(" ");
}

/** Creates a logger writing through `write` (default: stderr) at or above `min`. */
export function createLogger(
  opts: { min?: Level; component?: string; write?: (line: string) => void; time?: boolean } = {},
): Logger {
  const min = ORDER[opts.min ?? "info"];
  const enc = new TextEncoder();
  const write = opts.write ?? ((line: string) => Deno.stderr.writeSync(enc.encode(line + "\n")));
  const time = opts.time ?? false;
  const make = (component: string): Logger => {
    const emit = (level: Level) => (msg: string, fields?: Fields) => {
      if (ORDER[level] < min) return;
      const line = formatLine(level, component, msg, fields);
      write(time ? `${new Date().toISOString()} ${line}` : line);
    };
    return {
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      child: (c) => make(component ? `${component}.${c}` : c),
    };
  };
  return make(opts.component ?? "dmonitor");
}

/** A logger that records lines in memory, for tests. */
export function memoryLogger(min: Level = "debug"): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ min, write: (l) => lines.push(l) });
  return Object.assign(logger, { lines });
}
