/**
 * YAML decoding with errors that name the file and line. Strict: duplicate keys are errors.
 * @module
 */
import { parse, YAMLError } from "yaml";
import type { ConfigProblem } from "../errors/mod.ts";

/** Decodes YAML text, pushing a problem (and returning null) when it is not valid YAML. */
export function decodeYaml(text: string, file: string, problems: ConfigProblem[]): unknown {
  // The original tree's test files are empty: no parser needed (and none of its garbage).
  if (/^(\s*(#.*)?\n?)*$/.test(text)) return null;
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
