/**
 * The thin shell over libc: setgroups, setresgid and setresuid by FFI. glibc applies the set*id
 * calls to every thread of the process (its SIGSETXID broadcast), which Deno needs: V8 and tokio
 * threads exist before the switch. Linux clears the capability sets when all uids leave 0.
 * @module
 */

const SYMBOLS = {
  setgroups: { parameters: ["usize", "pointer"], result: "i32" },
  setresgid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  setresuid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  getresuid: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  getresgid: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** Where glibc lives: dlopen's own search finds it by soname on every glibc distribution. */
const LIBC = "libc.so.6";

export interface Ids {
  real: number;
  effective: number;
  saved: number;
}

/** What a switch did, for the caller to verify. */
export interface Switched {
  uid: Ids;
  gid: Ids;
}

/**
 * Clears the supplementary groups, then sets the real, effective and saved gid and uid, in that
 * order (the gid while still root). Throws naming the call and errno when one fails.
 */
export function switchIds(uid: number, gid: number): Switched {
  const lib = Deno.dlopen(LIBC, SYMBOLS);
  try {
    const errno = () => {
      const p = lib.symbols.__errno_location();
      return p ? new Deno.UnsafePointerView(p).getInt32() : -1;
    };
    const check = (what: string, rc: number) => {
      if (rc !== 0) throw new Error(`${what} failed (errno ${errno()})`);
    };
    check("setgroups(0)", lib.symbols.setgroups(0n, null));
    check(`setresgid(${gid})`, lib.symbols.setresgid(gid, gid, gid));
    check(`setresuid(${uid})`, lib.symbols.setresuid(uid, uid, uid));
    const read = (get: "getresuid" | "getresgid"): Ids => {
      const [r, e, s] = [new Uint32Array(1), new Uint32Array(1), new Uint32Array(1)];
      check(get, lib.symbols[get](r, e, s));
      return { real: r[0]!, effective: e[0]!, saved: s[0]! };
    };
    return { uid: read("getresuid"), gid: read("getresgid") };
  } finally {
    lib.close();
  }
}
