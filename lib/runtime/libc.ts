/**
 * The process's one handle on libc for the small calls Deno has no API for: the subreaper's prctl
 * and waitpid (lib/runner/reaper.ts) and its /proc reads (open, pread: lib/runner/children.ts),
 * the trust check's statx (lib/runner/trust_replay.ts), malloc_trim after a mass outage and
 * mallopt at start (lib/node/memory.ts), and lib/fsafe's open(2) with O_NONBLOCK | O_NOFOLLOW (Deno.open takes no such flags, and node:fs,
 * which does, pulls in Deno's Node compatibility layer: several MiB resident, issue 14). Opened
 * once, on first use; null without --allow-ffi (never prompted for) or without a libc.
 * (lib/privilege/libc.ts and lib/runner/spawn.ts still open their own: the user switch closes its
 * handle again, and posix_spawn's symbols depend on the architecture.)
 * @module
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** The same open(2) on Deno's blocking pool, for reads at run time (a hung mount). */
  open_nonblocking: {
    name: "open",
    parameters: ["buffer", "i32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  prctl: { parameters: ["i32", "usize", "usize", "usize", "usize"], result: "i32" },
  waitpid: { parameters: ["i32", "pointer", "i32"], result: "i32" },
  /** glibc only (musl has none). */
  malloc_trim: { parameters: ["usize"], result: "i32", optional: true },
  /** glibc's malloc tuning (lib/node/memory.ts fixes its thresholds); musl has none. */
  mallopt: { parameters: ["i32", "i32"], result: "i32", optional: true },
  /** The reaper's re-reads of /proc children files (lib/runner/children.ts). */
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  /** The trust check's replay (lib/runner/trust_replay.ts): glibc >= 2.28, musl >= 1.2.5. */
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32", optional: true },
} as const;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Libc | null | undefined;
let why = "";

/** libc's symbols, or null (see {@link libcUnavailable}). */
export function libc(): Libc | null {
  if (lib !== undefined) return lib;
  lib = null;
  if (Deno.build.os !== "linux") {
    why = `not Linux (${Deno.build.os})`;
    return null;
  }
  // Never prompt for the permission on a terminal.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    why = "no --allow-ffi";
    return null;
  }
  for (const name of ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      lib = Deno.dlopen(name, SYMBOLS).symbols;
      why = "";
      break;
    } catch (e) {
      why = `cannot load libc: ${(e as Error).message}`;
    }
  }
  return lib;
}

/** Why {@link libc} returned null ("" when it did not). */
export function libcUnavailable(): string {
  return why;
}

/** The calling thread's errno, right after a failed call made on this thread. */
export function errno(c: Libc): number {
  const p = c.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** open(2) flags that differ by architecture (asm-generic vs x86). */
export const O = (() => {
  const generic = { O_RDONLY: 0, O_NONBLOCK: 0o4000, O_CLOEXEC: 0o2000000 };
  return Deno.build.arch === "aarch64"
    ? { ...generic, O_NOFOLLOW: 0o100000 }
    : { ...generic, O_NOFOLLOW: 0o400000 };
})();
