/**
 * Starting a plugin with posix_spawn(3) through FFI to libc: a new session (POSIX_SPAWN_SETSID),
 * its pipes, a clean environment and `/` as cwd, without forking the runtime and without an extra
 * exec (`setsid`, `setpriv`). Deno's own `detached`/`uid` spawn fork(2)s the whole process, which
 * costs milliseconds per run and grows with our RSS; glibc's posix_spawn is clone(CLONE_VM |
 * CLONE_VFORK) plus exec.
 *
 * The user switch. posix_spawn has no uid attribute, and the child of a CLONE_VM spawn cannot run
 * JavaScript. Linux keeps credentials per thread, though, and a child takes those of the thread
 * that cloned it; only glibc's set*id wrappers broadcast a change to every thread. So, for one
 * spawn, the calling (main) thread alone switches by raw syscalls: setgroups(0), setresgid(gid,
 * gid, gid), setresuid(uid, uid, 0); spawns; and switches back (the saved uid 0 allows it, and
 * effective capabilities return with euid 0). Exec sets the child's saved uid to its effective
 * one, so the plugin ends with uid, gid and groups exactly as Deno's spawn (setgroups(0), setgid,
 * setuid) leaves them and no capabilities: without file capabilities on the plugin, exec computes
 * its permitted set from the ambient set, which must be empty (checked once, else this path is
 * not used), and the inheritable set, which Deno's setuid keeps too. All of it runs
 * synchronously on the main thread, so no other JavaScript runs while that thread is switched;
 * the other threads (tokio, V8) never change.
 *
 * What remains (documented in README "Privileges"): from the plugin's exec until the main thread
 * has switched back, a few microseconds, the main thread has the plugin's real uid, so the plugin
 * could signal dmonitor in that window. It cannot ptrace it (the saved uid differs and the
 * process is not dumpable meanwhile; the dumpable flag is restored afterwards).
 *
 * Waiting and reading: the pipes' read ends are non-blocking and, with a pidfd for the child,
 * registered in one epoll instance shared by all plugins ({@link Poller}); a single nonblocking
 * FFI epoll_wait on Deno's blocking pool reports a batch of them at a time, and the reads and the
 * reaping waitpid(WNOHANG) are synchronous once epoll says they are ready. Nothing here calls
 * waitpid on another pid, so Deno's and the reaper's children are not disturbed.
 * @module
 */
import type { Captured } from "./capture.ts";
import type { RunAs } from "./safety.ts";

const SYMBOLS = {
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  /** The same on Deno's blocking pool: the calling thread waits there until the child execs. */
  posix_spawn_pool: {
    name: "posix_spawn",
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_addclosefrom_np: {
    parameters: ["buffer", "i32"],
    result: "i32",
    optional: true,
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitpidBlocking: {
    name: "waitpid",
    parameters: ["i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: {
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  getresuid: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  getresgid: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Raw syscall numbers: these act on the calling thread only. */
const SYSCALLS: Record<
  string,
  { setgroups: number; getgroups: number; setresuid: number; setresgid: number }
> = {
  x86_64: { setgroups: 116, getgroups: 115, setresuid: 117, setresgid: 119 },
  aarch64: { setgroups: 159, getgroups: 158, setresuid: 147, setresgid: 149 },
};
const SYS_PIDFD_OPEN = 434; // the same on every architecture

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_SETFL = 4;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EPOLLIN = 0x1;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const MAX_EVENTS = 64;
/** struct epoll_event is packed on x86_64 (12 bytes), naturally aligned elsewhere (16). */
const EPOLL_EVENT_BYTES = Deno.build.arch === "x86_64" ? 12 : 16;
const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;
const WNOHANG = 1;
const EINTR = 4;
const EAGAIN = 11;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;
const PR_GET_SECUREBITS = 27;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_IS_SET = 1;
/** Generous for glibc's and musl's posix_spawn_file_actions_t (80 B) and posix_spawnattr_t (336 B). */
const OPAQUE_BYTES = 1024;
const READ_CHUNK = 64 * 1024;

// deno-fmt-ignore
const SIGNALS: Deno.Signal[] = [
  "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
  "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD",
  "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ",
  "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
];

interface State {
  lib: Lib;
  /** File actions by pipe descriptors (see {@link fileActions}). */
  kept: Map<number, Uint8Array>;
  /** Set up once: a new session, default dispositions for every signal, nothing blocked. */
  attr: Uint8Array;
  sys: (typeof SYSCALLS)[string];
  /** Why the user switch cannot be done here, or null. */
  noSwitch: string | null;
  /** The main thread's own credentials, read at the first switch (see {@link ownCredentials}). */
  own?: Credentials;
}

/** What {@link spawnAs} restores after each spawn. */
interface Credentials {
  uid: [number, number, number];
  gid: [number, number, number];
  /** Supplementary groups (setgroups takes a pointer into it). */
  groups: Uint32Array;
  ngroups: number;
  dumpable: number;
}
let state: State | null | undefined;
let unavailable = "";

/** Why {@link posixSpawnAvailable} is false ("" when it is true or was not asked yet). */
export function posixSpawnUnavailable(): string {
  return unavailable;
}

function open(): State | null {
  if (state !== undefined) return state;
  state = null;
  const sys = SYSCALLS[Deno.build.arch];
  if (Deno.build.os !== "linux" || !sys) {
    unavailable = `not Linux on x86_64 or aarch64 (${Deno.build.os} ${Deno.build.arch})`;
    return null;
  }
  // Never prompt for the permission on a terminal: without it, use Deno's spawn.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    unavailable = "no --allow-ffi";
    return null;
  }
  let lib: Lib | null = null;
  for (const name of ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      lib = Deno.dlopen(name, SYMBOLS).symbols;
      break;
    } catch (e) {
      unavailable = `cannot load libc's posix_spawn: ${(e as Error).message}`;
    }
  }
  if (lib === null) return null;
  const attr = new Uint8Array(OPAQUE_BYTES);
  const sigdef = new Uint8Array(128);
  const sigmask = new Uint8Array(128);
  // Rust ignores SIGPIPE and a plugin must not inherit that; nor any blocked signal.
  lib.sigfillset(sigdef);
  lib.sigemptyset(sigmask);
  const flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (
    lib.posix_spawnattr_init(attr) !== 0 || lib.posix_spawnattr_setsigdefault(attr, sigdef) !== 0 ||
    lib.posix_spawnattr_setsigmask(attr, sigmask) !== 0 ||
    lib.posix_spawnattr_setflags(attr, flags) !== 0
  ) {
    unavailable = "posix_spawnattr setup failed";
    return null;
  }
  unavailable = "";
  state = { lib, sys, kept: new Map(), attr, noSwitch: switchProblem(lib) };
  return state;
}

/** A reason the per-thread user switch would leave the plugin privileged, or null. */
function switchProblem(lib: Lib): string | null {
  if (lib.prctl(PR_GET_SECUREBITS, 0n, 0n, 0n, 0n) !== 0) return "securebits are set";
  for (let cap = 0; cap < 64; cap++) {
    const r = lib.prctl(PR_CAP_AMBIENT, BigInt(PR_CAP_AMBIENT_IS_SET), BigInt(cap), 0n, 0n);
    if (r < 0) break; // EINVAL past the last capability
    if (r === 1) return `ambient capability ${cap} is set`;
  }
  return null;
}

/** Whether plugins can be started through posix_spawn here, switching to another user or not. */
export function posixSpawnAvailable(switchUser: boolean): boolean {
  const s = open();
  if (s === null) return false;
  if (switchUser && s.noSwitch !== null) {
    unavailable = `cannot switch user per thread: ${s.noSwitch}`;
    return false;
  }
  return true;
}

/**
 * kill(2) through libc: true when sent, false when it failed (the group is gone, or EPERM);
 * null when libc is not loaded (the caller uses Deno.kill).
 */
export function killQuiet(pid: number, signo: number): boolean | null {
  if (!state) return null;
  return state.lib.kill(pid, signo) === 0;
}

export interface SpawnOptions {
  path: string;
  args: string[];
  env: Record<string, string>;
  /** Switch to this user and group (the caller is root); null keeps ours. */
  runAs: RunAs | null;
}

/** A running plugin; the fields mirror the parts of Deno.ChildProcess the runner uses. */
export interface SpawnedPlugin {
  pid: number;
  status: Promise<Deno.CommandStatus>;
  /** Stdout (first `cap` bytes) and stderr (first `errCap`), once both pipes have closed. */
  output: Promise<[Captured, Captured]>;
  /** Stops reading the pipes; `output` then settles with what was read. */
  cancel(): void;
}

const encoder = new TextEncoder();

/** The C strings and pointer arrays of one spawn. */
interface Packed {
  /** The program's path: argv[0], NUL-terminated. */
  path: Uint8Array;
  argv: Uint32Array;
  envp: Uint32Array;
  /** Buffers the pointers point into, to keep alive until posix_spawn has returned. */
  keep: Uint8Array[];
}

function noNul(list: string[]): void {
  for (const s of list) {
    if (s.includes("\0")) {
      throw new TypeError(`argument or variable contains NUL: ${JSON.stringify(s)}`);
    }
  }
}

/** Writes pointer `p` as entry `i` of a 64-bit little-endian array (x86_64, aarch64). */
function setPointer(pointers: Uint32Array, i: number, p: number): void {
  pointers[2 * i] = p % 0x1_0000_0000;
  pointers[2 * i + 1] = Math.floor(p / 0x1_0000_0000);
}

/**
 * NUL-terminated strings in one buffer and a NULL-terminated pointer array over them, written
 * as 32-bit halves: no BigInt per string.
 */
function cStrings(list: string[]): { strings: Uint8Array; pointers: Uint32Array } {
  noNul(list);
  const strings = encoder.encode(list.join("\0") + "\0");
  const pointers = new Uint32Array(2 * (list.length + 1));
  const base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(strings)));
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    setPointer(pointers, i, base + at);
    at = strings.indexOf(0, at) + 1;
  }
  return { strings, pointers };
}

/** For a spawn that may overlap others (on the pool): buffers of its own. */
function packOwn(args: string[], env: string[]): Packed {
  const argv = cStrings(args);
  const envp = cStrings(env);
  return {
    path: argv.strings,
    argv: argv.pointers,
    envp: envp.pointers,
    keep: [argv.strings, envp.strings],
  };
}

const SHARED_BYTES = 64 * 1024;
const SHARED_POINTERS = 1024;
let shared: { bytes: Uint8Array; base: number; pointers: Uint32Array } | undefined;

/**
 * For a spawn made synchronously on the main thread (the user switch), which nothing can
 * overlap: argv and envp written into one buffer kept for them, whose address is read once (a
 * fifth of the cost of fresh buffers). Null when they do not fit.
 */
function packShared(args: string[], env: string[]): Packed | null {
  noNul(args);
  noNul(env);
  if (args.length + env.length + 2 > SHARED_POINTERS) return null;
  shared ??= (() => {
    const bytes = new Uint8Array(SHARED_BYTES);
    const base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
    return { bytes, base, pointers: new Uint32Array(2 * SHARED_POINTERS) };
  })();
  const { bytes, base, pointers } = shared;
  let at = 0;
  let i = 0;
  for (const list of [args, env]) {
    for (const str of list) {
      const r = encoder.encodeInto(str, bytes.subarray(at, SHARED_BYTES - 1));
      if (r.read < str.length) return null;
      setPointer(pointers, i++, base + at);
      at += r.written;
      bytes[at++] = 0;
    }
    setPointer(pointers, i++, 0);
  }
  const split = 2 * (args.length + 1);
  return {
    path: bytes,
    argv: pointers.subarray(0, split),
    envp: pointers.subarray(split, 2 * i),
    keep: [],
  };
}

const cString = (s: string) => encoder.encode(s + "\0");
const DEV_NULL = cString("/dev/null");
const ROOT_DIR = cString("/");

function errno(lib: Lib): number {
  const p = lib.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : -1;
}

/** The error Deno's own spawn would throw for errno `code`, so messages stay the same. */
function spawnError(code: number, path: string): Error {
  const text: Record<number, string> = {
    2: "No such file or directory",
    8: "Exec format error",
    13: "Permission denied",
    26: "Text file busy",
  };
  const message = `Failed to spawn '${path}': ${text[code] ?? "error"} (os error ${code})`;
  if (code === 2) return new Deno.errors.NotFound(message);
  if (code === 13 || code === 1) return new Deno.errors.PermissionDenied(message);
  return new Error(message);
}

/**
 * Starts `path` in a new session with stdin on /dev/null, stdout and stderr on pipes and cwd `/`,
 * as `runAs` when given. Rejects with the error Deno.Command would throw (NotFound,
 * PermissionDenied, ...) when the exec fails. Call only when {@link posixSpawnAvailable} is true.
 *
 * Without a user switch the spawn runs on Deno's blocking pool: glibc's posix_spawn holds its
 * calling thread until the child has exec'd, which on a busy machine means until the scheduler
 * has run the child, and on the main thread that wait serialised every spawn (75% of the main
 * thread's time at 16 concurrent plugins, measured with --cpu-prof). With a user switch the spawn
 * must run on the thread whose credentials were switched, so it stays on the main thread.
 */
export async function posixSpawn(
  o: SpawnOptions,
  cap: number,
  errCap: number,
): Promise<SpawnedPlugin> {
  const s = open();
  if (s === null) throw new Error(`posix_spawn is not available: ${unavailable}`);
  const { lib } = s;
  const args = [o.path, ...o.args];
  const env = Object.entries(o.env).map(([k, v]) => `${k}=${v}`);
  const c = (o.runAs ? packShared(args, env) : null) ?? packOwn(args, env);

  const fds = new Int32Array(4);
  if (lib.pipe2(fds.subarray(0, 2), O_CLOEXEC) !== 0) {
    throw new Error(`pipe2 failed (errno ${errno(lib)})`);
  }
  if (lib.pipe2(fds.subarray(2, 4), O_CLOEXEC) !== 0) {
    const e = errno(lib);
    lib.close(fds[0]!), lib.close(fds[1]!);
    throw new Error(`pipe2 failed (errno ${e})`);
  }
  const [outR, outW, errR, errW] = [fds[0]!, fds[1]!, fds[2]!, fds[3]!];
  const closeAll = () => [outR, outW, errR, errW].forEach((fd) => lib.close(fd));

  const { attr } = s;
  const pidBuf = new Int32Array(1);
  let rc: number;
  const built = fileActions(s, outW, errW);
  try {
    rc = o.runAs
      ? spawnAs(
        s,
        o.runAs,
        () => lib.posix_spawn(pidBuf, c.path, built.actions, attr, c.argv, c.envp),
      )
      : await lib.posix_spawn_pool(pidBuf, c.path, built.actions, attr, c.argv, c.envp);
  } catch (e) {
    closeAll();
    throw e;
  } finally {
    if (!built.kept) lib.posix_spawn_file_actions_destroy(built.actions);
    // Keep the strings alive until here: the pointer arrays point into them.
    void c.keep;
  }
  lib.close(outW);
  lib.close(errW);
  if (rc !== 0) {
    lib.close(outR);
    lib.close(errR);
    throw spawnError(rc, o.path);
  }
  const pid = pidBuf[0]!;
  lib.fcntl(outR, F_SETFL, O_NONBLOCK);
  lib.fcntl(errR, F_SETFL, O_NONBLOCK);
  return watch(s, pid, outR, errR, cap, errCap);
}

/** File actions kept for a pair of pipe descriptors; the numbers come back run after run. */
const MAX_KEPT_ACTIONS = 256;

/**
 * The file actions of a spawn whose stdout and stderr are `outW` and `errW`: stdin from
 * /dev/null, the two pipes, cwd `/`, and every other descriptor closed. posix_spawn only reads
 * them, so spawns overlapping on the pool can share one; and the lowest free descriptors are
 * reused, so a few pairs cover every spawn: each is built once (seven libc calls and six
 * getrlimit system calls saved per spawn) and kept, up to {@link MAX_KEPT_ACTIONS}. Past that, a
 * spawn builds its own and destroys it (`kept` false).
 */
function fileActions(s: State, outW: number, errW: number): { actions: Uint8Array; kept: boolean } {
  const key = outW < 0x10000 && errW < 0x10000 ? outW * 0x10000 + errW : -1;
  const cached = s.kept.get(key);
  if (cached) return { actions: cached, kept: true };
  const { lib } = s;
  const actions = new Uint8Array(OPAQUE_BYTES);
  lib.posix_spawn_file_actions_init(actions);
  try {
    const check = (what: string, r: number) => {
      if (r !== 0) throw new Error(`${what} failed (errno ${r})`);
    };
    check("addopen", lib.posix_spawn_file_actions_addopen(actions, 0, DEV_NULL, O_RDONLY, 0));
    check("adddup2", lib.posix_spawn_file_actions_adddup2(actions, outW, 1));
    check("adddup2", lib.posix_spawn_file_actions_adddup2(actions, errW, 2));
    check("addchdir", lib.posix_spawn_file_actions_addchdir_np(actions, ROOT_DIR));
    // Descriptors inherited without close-on-exec (from whoever started dmonitor) stay ours.
    if (lib.posix_spawn_file_actions_addclosefrom_np) {
      check("addclosefrom", lib.posix_spawn_file_actions_addclosefrom_np(actions, 3));
    }
  } catch (e) {
    lib.posix_spawn_file_actions_destroy(actions);
    throw e;
  }
  if (key < 0 || s.kept.size >= MAX_KEPT_ACTIONS) return { actions, kept: false };
  s.kept.set(key, actions);
  return { actions, kept: true };
}

/**
 * The main thread's real, effective and saved ids, supplementary groups and dumpable flag, read
 * once. They cannot change while plugins switch user: nothing in dmonitor changes credentials
 * except the start-up drop of `run_as` (lib/privilege), which runs before the scheduler and
 * leaves no id at 0, after which the node is not root and never switches per thread again;
 * {@link spawnAs} itself always puts back exactly these. Should they have changed anyway, the
 * switch back would at worst restore root's own ids, which only a thread that still is root can
 * do (setresuid needs CAP_SETUID), or fail and disable the path (the safe side).
 */
function ownCredentials(s: State): Credentials {
  if (s.own) return s.own;
  const { lib, sys } = s;
  const u = [new Uint32Array(1), new Uint32Array(1), new Uint32Array(1)] as const;
  const g = [new Uint32Array(1), new Uint32Array(1), new Uint32Array(1)] as const;
  if (lib.getresuid(...u) !== 0 || lib.getresgid(...g) !== 0) throw new Error("getresuid failed");
  const groups = new Uint32Array(1024);
  const ngroups = Number(
    lib.syscall(BigInt(sys.getgroups), BigInt(groups.length), BigInt(ptr(groups)), 0n),
  );
  if (ngroups < 0) throw new Error(`getgroups failed (errno ${errno(lib)})`);
  s.own = {
    uid: [u[0][0]!, u[1][0]!, u[2][0]!],
    gid: [g[0][0]!, g[1][0]!, g[2][0]!],
    groups,
    ngroups,
    dumpable: lib.prctl(PR_GET_DUMPABLE, 0n, 0n, 0n, 0n),
  };
  return s.own;
}

const ptr = (b: Uint32Array) =>
  Deno.UnsafePointer.value(Deno.UnsafePointer.of(b as Uint32Array<ArrayBuffer>));

/**
 * Runs `spawn` with the calling thread switched to `runAs`, then switches it back. A failed
 * switch back leaves this thread unprivileged (the safe side) and is thrown.
 *
 * Five system calls around the spawn (seven with supplementary groups): setgroups is left out
 * both ways when the thread has none (usual for a service), since the plugin inherits that empty
 * list as it is; the dumpable flag is put back because the kernel clears it on each euid change.
 */
function spawnAs(s: State, runAs: RunAs, spawn: () => number): number {
  const { lib, sys } = s;
  const own = ownCredentials(s);
  const call = (nr: number, a: number | bigint, b: number | bigint = 0, c: number | bigint = 0) =>
    Number(lib.syscall(BigInt(nr), BigInt(a), BigInt(b), BigInt(c)));
  let rc: number;
  try {
    if (own.ngroups !== 0 && call(sys.setgroups, 0, 0) !== 0) {
      throw new Error(`setgroups(0) failed (errno ${errno(lib)})`);
    }
    if (call(sys.setresgid, runAs.gid, runAs.gid, runAs.gid) !== 0) {
      throw new Error(`setresgid(${runAs.gid}) failed (errno ${errno(lib)})`);
    }
    if (call(sys.setresuid, runAs.uid, runAs.uid, own.uid[2]) !== 0) {
      throw new Error(`setresuid(${runAs.uid}) failed (errno ${errno(lib)})`);
    }
    rc = spawn();
  } finally {
    const back = call(sys.setresuid, own.uid[0], own.uid[1], own.uid[2]) === 0 &&
      call(sys.setresgid, own.gid[0], own.gid[1], own.gid[2]) === 0 &&
      (own.ngroups === 0 || call(sys.setgroups, own.ngroups, ptr(own.groups)) === 0);
    if (!back) {
      const e = errno(lib);
      s.noSwitch = `switching the main thread back failed (errno ${e})`;
      // deno-lint-ignore no-unsafe-finally
      throw new Error(`cannot restore the main thread's credentials after a spawn (errno ${e})`);
    }
    if (own.dumpable >= 0) lib.prctl(PR_SET_DUMPABLE, BigInt(own.dumpable), 0n, 0n, 0n);
  }
  return rc;
}

/**
 * One epoll instance for every running plugin's pipes and pidfd, with at most one epoll_wait in
 * flight on Deno's blocking pool: a batch of events costs one thread hop, whatever the number of
 * plugins. Registrations are added and removed synchronously from the main thread (epoll allows
 * that while another thread waits). An event carries the fd and a generation, so one delivered
 * after its fd was closed and the number reused is recognised and dropped; and every handler
 * treats readiness as a hint (non-blocking reads, waitpid WNOHANG), so a stray one is harmless.
 */
class Poller {
  readonly #lib: Lib;
  readonly #epfd: number;
  readonly #wake: number;
  readonly #handlers = new Map<number, { gen: number; fn: () => void }>();
  readonly #events: Uint8Array;
  readonly #view: DataView;
  readonly #ctl = new Uint8Array(16);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  #gen = 0;
  #waiting = false;

  constructor(lib: Lib) {
    this.#lib = lib;
    this.#epfd = lib.epoll_create1(O_CLOEXEC);
    this.#wake = lib.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.#epfd < 0 || this.#wake < 0) {
      throw new Error(`epoll_create1 failed (errno ${errno(lib)})`);
    }
    this.#events = new Uint8Array(EPOLL_EVENT_BYTES * MAX_EVENTS);
    this.#view = new DataView(this.#events.buffer);
    this.#control(EPOLL_CTL_ADD, this.#wake, 0);
  }

  #control(op: number, fd: number, gen: number): number {
    this.#ctlView.setUint32(0, EPOLLIN, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, fd, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET + 4, gen, true);
    return this.#lib.epoll_ctl(this.#epfd, op, fd, this.#ctl);
  }

  /** Calls `fn` whenever `fd` is readable (or at EOF/error) until {@link remove}. */
  add(fd: number, fn: () => void): void {
    const gen = (this.#gen = (this.#gen + 1) >>> 0);
    if (this.#control(EPOLL_CTL_ADD, fd, gen) !== 0) {
      throw new Error(`epoll_ctl(ADD, ${fd}) failed (errno ${errno(this.#lib)})`);
    }
    this.#handlers.set(fd, { gen, fn });
    if (!this.#waiting) void this.#loop();
  }

  /**
   * Stops watching `fd` and closes it. The registration is removed first: closing alone would
   * leave it in place while a spawn on another thread holds a copy of the descriptor (from its
   * clone until the child's exec), and a closed pipe at EOF would keep waking epoll_wait in that
   * window (measured: three times as many waits with the pool's spawns).
   */
  close(fd: number): void {
    if (!this.#handlers.delete(fd)) return;
    this.#control(EPOLL_CTL_DEL, fd, 0);
    this.#lib.close(fd);
    // A wait with nothing left to watch would hold the event loop open: release it.
    if (this.#handlers.size === 0 && this.#waiting) {
      this.#lib.write(this.#wake, new BigUint64Array([1n]), 8n);
    }
  }

  async #loop(): Promise<void> {
    this.#waiting = true;
    let failures = 0;
    try {
      while (this.#handlers.size > 0) {
        const n = await this.#lib.epoll_wait(this.#epfd, this.#events, MAX_EVENTS, -1);
        if (n < 0) {
          // errno belongs to the pool thread and cannot be read here. With a valid epoll fd
          // and buffer the only failure is EINTR (a signal reached that thread): retry.
          if (++failures < 1000) continue;
          throw new Error("epoll_wait keeps failing");
        }
        failures = 0;
        for (let i = 0; i < n; i++) {
          const at = i * EPOLL_EVENT_BYTES + EPOLL_DATA_OFFSET;
          const fd = this.#view.getUint32(at, true);
          if (fd === this.#wake) {
            this.#lib.read(this.#wake, this.#ctl, 8n);
            continue;
          }
          const h = this.#handlers.get(fd);
          if (h && h.gen === this.#view.getUint32(at + 4, true)) h.fn();
        }
      }
    } finally {
      this.#waiting = false;
    }
  }
}

let poller: Poller | undefined;

/** Reads the pipes and reaps the child through the shared {@link Poller}. */
function watch(
  s: State,
  pid: number,
  outR: number,
  errR: number,
  cap: number,
  errCap: number,
): SpawnedPlugin {
  const { lib } = s;
  const p = poller ??= new Poller(lib);
  const pidfd = Number(lib.syscall(BigInt(SYS_PIDFD_OPEN), BigInt(pid), 0n, 0n));
  const streams = [
    { fd: outR, open: true, cap, chunks: [] as Uint8Array[], kept: 0, total: 0 },
    { fd: errR, open: true, cap: errCap, chunks: [] as Uint8Array[], kept: 0, total: 0 },
  ];
  const statusBuf = new Int32Array(1);
  let resolveStatus!: (st: Deno.CommandStatus) => void;
  const status = new Promise<Deno.CommandStatus>((r) => resolveStatus = r);
  let resolveOutput!: (o: [Captured, Captured]) => void;
  const output = new Promise<[Captured, Captured]>((r) => resolveOutput = r);
  const settle = (st: number) => {
    resolveStatus(decodeStatus(st));
  };
  const closePipe = (st: (typeof streams)[number]) => {
    if (!st.open) return;
    st.open = false;
    p.close(st.fd);
    if (!streams[0]!.open && !streams[1]!.open) {
      resolveOutput([captured(streams[0]!), captured(streams[1]!)]);
    }
  };
  /** Reads what is there, closing the pipe at EOF or on an error. */
  const drain = (st: (typeof streams)[number]) => {
    for (;;) {
      const n = Number(lib.read(st.fd, readBuffer, BigInt(READ_CHUNK)));
      if (n > 0) {
        st.total += n;
        if (st.kept < st.cap) {
          const part = readBuffer.slice(0, Math.min(n, st.cap - st.kept));
          st.chunks.push(part);
          st.kept += part.length;
        }
        continue;
      }
      if (n < 0) {
        const e = errno(lib);
        if (e === EINTR) continue;
        if (e === EAGAIN) return;
      }
      return closePipe(st);
    }
  };

  if (pidfd >= 0) {
    p.add(pidfd, () => {
      if (lib.waitpid(pid, statusBuf, WNOHANG) !== pid) return;
      p.close(pidfd);
      settle(statusBuf[0]!);
    });
  } else {
    // No pidfd (Linux < 5.3): a blocking waitpid on the pool instead.
    lib.waitpidBlocking(pid, new Int32Array(statusBuf.buffer), 0).then(() => settle(statusBuf[0]!));
  }
  for (const st of streams) p.add(st.fd, () => drain(st));
  return {
    pid,
    status,
    output,
    cancel() {
      for (const st of streams) closePipe(st);
    },
  };
}

/** Shared by every read: the bytes kept are copied out of it at once. */
const readBuffer = new Uint8Array(READ_CHUNK);

function captured(st: { chunks: Uint8Array[]; kept: number; total: number }): Captured {
  // The usual plugin writes one line: its one chunk is already a copy of its own.
  if (st.chunks.length === 1) return { bytes: st.chunks[0]!, total: st.total };
  const bytes = new Uint8Array(st.kept);
  let at = 0;
  for (const c of st.chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, total: st.total };
}

/** A wait(2) status as Deno reports it: a signal gives code 128 + its number. */
export function decodeStatus(st: number): Deno.CommandStatus {
  const sig = st & 0x7f;
  if (sig === 0) {
    const code = (st >> 8) & 0xff;
    return { success: code === 0, code, signal: null };
  }
  return { success: false, code: 128 + sig, signal: SIGNALS[sig - 1] ?? null };
}
