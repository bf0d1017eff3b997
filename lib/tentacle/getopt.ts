/**
 * Command-line parsing as Perl's Getopt::Std `getopts` does it, so that lines written for the
 * reference scripts parse the same: bundled flags (`-Io`), values glued to their flag
 * (`-i.*\.conf:conf`) or in the next argument, `--` ending the options, the first non-option
 * argument ending them too, the last of repeated flags winning, and `--help` recognised as
 * Getopt::Std does.
 * @module
 */

/** Options found, remaining arguments, and problems (unknown flags, missing values). */
export interface GetoptResult {
  opts: Map<string, string | true>;
  rest: string[];
  errors: string[];
}

/** Parses `args` against a Getopt::Std spec such as `"a:b:cd"` (`:` marks a flag with a value). */
export function getopts(spec: string, args: readonly string[]): GetoptResult {
  const takesValue = new Map<string, boolean>();
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c === ":") continue;
    takesValue.set(c, spec[i + 1] === ":");
  }
  const opts = new Map<string, string | true>();
  const errors: string[] = [];
  const argv = [...args];
  while (argv.length > 0) {
    const arg = argv[0]!;
    if (arg === "--") {
      argv.shift();
      break;
    }
    // Getopt::Std answers `--help` itself (HELP_MESSAGE); here it comes back as `help`, for the
    // caller to print its usage.
    if (arg === "--help") {
      opts.set("help", true);
      argv.shift();
      continue;
    }
    if (arg.length < 2 || arg[0] !== "-") break;
    const flag = arg[1]!;
    const glued = arg.slice(2);
    const value = takesValue.get(flag);
    if (value === undefined) {
      errors.push(`unknown option -${flag}`);
      if (glued === "") argv.shift();
      else argv[0] = "-" + glued;
      continue;
    }
    if (value) {
      argv.shift();
      if (glued !== "") opts.set(flag, glued);
      else if (argv.length > 0) opts.set(flag, argv.shift()!);
      else errors.push(`option -${flag} requires a value`);
      continue;
    }
    opts.set(flag, true);
    if (glued === "") argv.shift();
    else argv[0] = "-" + glued;
  }
  return { opts, rest: argv, errors };
}
