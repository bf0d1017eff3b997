/**
 * YAML decoding with errors that name the file and line. Strict: duplicate keys are errors.
 *
 * The YAML library costs about 11 MiB of resident memory once loaded, and most trees need none
 * of it: their files are empty or flat `key: value` lists ({@link decodeFlat}). So it is loaded
 * only when a file needs it: whoever reads files calls {@link prepareYaml} before the pure
 * parsers run (readConfigTree does), and {@link decodeYaml} stays synchronous.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";

type YamlLibrary = typeof import("yaml");
let library: YamlLibrary | undefined;

/** Whether decoding `text` needs the YAML library (it is neither blank nor flat). */
export function needsYamlLibrary(text: string): boolean {
  return !isBlank(text) && decodeFlat(text) === undefined;
}

/** Loads the YAML library if one of `texts` needs it (see the module doc). */
export async function prepareYaml(texts: Iterable<string | null | undefined>): Promise<void> {
  if (library) return;
  for (const t of texts) {
    if (t && needsYamlLibrary(t)) {
      await loadYamlLibrary();
      return;
    }
  }
}

/** Loads the YAML library now (tests that decode YAML in memory). */
export async function loadYamlLibrary(): Promise<void> {
  library ??= await import("yaml");
}

/** Whether the library is loaded (for tests of the lazy loading). */
export function yamlLibraryLoaded(): boolean {
  return library !== undefined;
}

const BLANK_OR_COMMENT = /^\s*(#.*)?$/;
const FLAT_LINE = /^([a-z_][a-z0-9_]*):[ \t]+(\S+)$/;
const INT = /^(0|[1-9][0-9]{0,14})$/;
const DURATION = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;
const PLAIN = /^[A-Za-z/][A-Za-z0-9_./@-]*$/;
/** `host:port` and dotted IPv4 (`listen: 127.0.0.1:9100`): strings to YAML 1.2, never numbers. */
const ADDRESS = /^([A-Za-z0-9][A-Za-z0-9_.-]*:[0-9]{1,5}|[0-9]{1,3}(\.[0-9]{1,3}){3})$/;
/** Plain scalars YAML 1.2's core schema reads as something other than a string. */
const NOT_STRINGS = new Set([
  "true",
  "True",
  "TRUE",
  "false",
  "False",
  "FALSE",
  "null",
  "Null",
  "NULL",
]);

/**
 * Decodes the common case of a test file, a flat `key: value` mapping of integers, booleans,
 * durations and plain words, without the YAML library; returns undefined for anything else (which
 * then goes to the full parser). Same result as the parser for what it accepts (tested against
 * it), at a fraction of the garbage: 1,000 test files are read at start-up.
 */
export function decodeFlat(text: string): Record<string, string | number | boolean> | undefined {
  const out: Record<string, string | number | boolean> = {};
  for (const line of text.split("\n")) {
    const raw = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (BLANK_OR_COMMENT.test(raw)) continue;
    const m = FLAT_LINE.exec(raw);
    if (!m) return undefined;
    const [, key, v] = m as unknown as [string, string, string];
    if (Object.hasOwn(out, key)) return undefined; // the parser reports the duplicate
    if (INT.test(v)) out[key] = Number(v);
    else if (v === "true" || v === "false") out[key] = v === "true";
    else if (DURATION.test(v) || ADDRESS.test(v) || (PLAIN.test(v) && !NOT_STRINGS.has(v))) {
      out[key] = v;
    } else return undefined;
  }
  return out;
}

function isBlank(text: string): boolean {
  return text.split("\n").every((l) => BLANK_OR_COMMENT.test(l));
}

/** Decodes YAML text, pushing a problem (and returning null) when it is not valid YAML. */
export function decodeYaml(text: string, file: string, problems: ConfigProblem[]): unknown {
  // The original tree's test files are empty: no parser needed (and none of its garbage).
  // Line by line: one regex over the whole text (`^(\s*(#.*)?\n?)*$`) backtracked exponentially
  // on a long comment block followed by a key, and hung `config check` on the shipped example.
  if (isBlank(text)) return null;
  const flat = decodeFlat(text);
  if (flat !== undefined) return flat;
  if (!library) {
    throw new Error(`Cannot decode ${file}: the YAML library was not loaded (prepareYaml)`);
  }
  const { parse, YAMLError } = library;
  try {
    return parse(text, { uniqueKeys: true, strict: true, prettyErrors: true, maxAliasCount: 100 });
  } catch (e) {
    if (e instanceof YAMLError) {
      const line = e.linePos?.[0]?.line;
      const msg = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      problems.push({
        file,
        key: line ? `line ${line}` : "",
        message: `is not valid YAML: ${msg}`,
      });
      return null;
    }
    throw e;
  }
}
