/**
 * Who a plugin runs as, and explaining a failed spawn. Whether a plugin may run at all is
 * decided in trust.ts.
 * @module
 */

/** A user and primary group a plugin runs as. */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Reads the interpreter named on a `#!` line, or null when there is none. */
export function parseShebang(head: Uint8Array | string): string | null {
  const text = typeof head === "string" ? head : new TextDecoder().decode(head);
  if (!text.startsWith("#!")) return null;
  const line = text.slice(2).split("\n", 1)[0]!.trim();
  return line.split(/[ \t]+/, 1)[0] || null;
}

/**
 * Explains why spawning a plugin that passed the safety check failed. The common case is a
 * script whose `#!` interpreter is missing: exec reports ENOENT for the script itself, which
 * would read as "no such file" although the file is right there.
 */
export async function describeSpawnError(
  path: string,
  err: unknown,
  runAs: RunAs | null,
): Promise<string> {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Deno.errors.NotFound) {
    const interpreter = await readShebang(path);
    if (interpreter !== null) {
      const exists = await Deno.stat(interpreter).then(() => true, () => false);
      return exists
        ? `its interpreter ${interpreter} could not be started: ${message}`
        : `its interpreter ${interpreter} (from the #! line) does not exist`;
    }
    return `exec failed: ${message}`;
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    const who = runAs ? ` as uid ${runAs.uid}` : "";
    return `permission denied executing it${who} (check the file, its interpreter and their directories)`;
  }
  return `cannot start it: ${message}`;
}

async function readShebang(path: string): Promise<string | null> {
  try {
    using file = await Deno.open(path);
    const buf = new Uint8Array(256);
    const n = await file.read(buf);
    return n === null ? null : parseShebang(buf.subarray(0, n));
  } catch {
    return null;
  }
}
