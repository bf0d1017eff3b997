/**
 * Typed errors shared by every part of dmonitor. Library code throws these; only `main.ts` turns
 * them into one line on stderr and an exit code.
 * @module
 */

/** A single problem in the configuration tree, naming the file, the key and the offending value. */
export interface ConfigProblem {
  /** Path relative to the config root, e.g. `hosts.d/www.example.com/ssh`. */
  file: string;
  /** The key inside the file, or "" when the problem is the file (or its name) itself. */
  key: string;
  /** Human-readable message that already quotes the value. */
  message: string;
}

/** The configuration tree is broken; carries every problem found, not just the first. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: ConfigProblem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join("\n"), options);
  }
}

/** Formats one problem as `file: key: message` (key omitted when empty). */
export function formatProblem(p: ConfigProblem): string {
  return p.key ? `${p.file}: '${p.key}' ${p.message}` : `${p.file}: ${p.message}`;
}

/**
 * Formats a problem of the tree rooted at `dir` with the file's full path (problems about `dir`
 * itself already name an absolute path).
 */
export function formatProblemIn(dir: string, p: ConfigProblem): string {
  return p.file.startsWith("/") ? formatProblem(p) : `${dir}/${formatProblem(p)}`;
}

/** A bad command-line flag or argument: exit code 64 (EX_USAGE). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Started as root, the process could not switch to its unprivileged user (or refuses to try). */
export class PrivilegeError extends Error {
  override name = "PrivilegeError";
  /** The path at fault, when there is one (the state directory). */
  constructor(message: string, readonly path?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A plugin could not be run at all (missing, unsafe permissions, bad interpreter). */
export class PluginError extends Error {
  override name = "PluginError";
  constructor(readonly plugin: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A peer could not be reached or answered something we cannot use. */
export class PeerError extends Error {
  override name = "PeerError";
  constructor(readonly peer: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A wire protocol was violated (Tentacle, peer API). `reply` holds what the other side said. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(message: string, readonly reply?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Persistent state could not be read or written. */
export class StoreError extends Error {
  override name = "StoreError";
}

/** Why a peer request was refused; the peer learns none of it (401 with a bare body). */
export type AuthReason =
  | "no-key"
  | "unsigned"
  | "malformed"
  | "stale"
  | "forged"
  | "replayed"
  | "overloaded"
  | "misdirected"
  | "unknown-sender";

/** A peer request failed authentication. */
export class AuthError extends Error {
  override name = "AuthError";
  constructor(readonly reason: AuthReason, message: string) {
    super(message);
  }
}

/** Why a file of the tree was not read. */
export type TreeFileReason = "missing" | "not-regular" | "too-large" | "timeout" | "unreadable";

/**
 * A file of the configuration tree was refused or could not be read. The message names the path
 * and what was found (`... is a FIFO, not a regular file`, `... is 3145728 bytes, at most 1048576`).
 */
export class TreeFileError extends Error {
  override name = "TreeFileError";
  /** The size found, for "too-large". */
  readonly size: number | null;
  constructor(
    readonly path: string,
    readonly reason: TreeFileReason,
    message: string,
    options?: ErrorOptions & { size?: number },
  ) {
    super(message, options);
    this.size = options?.size ?? null;
  }
}

/** A request or operation took longer than its deadline. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/** An alert could not be delivered; `permanent` when retrying cannot help (e.g. a 5xx rejection). */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  constructor(message: string, readonly permanent: boolean, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * Why a file system call failed, in the words of `ls` and `mkdir` ("permission denied", "no such
 * file or directory"), never Deno's ("run again with the --allow-all flag", "(os error 2)").
 */
export function fsReason(e: unknown): string {
  const E = Deno.errors;
  if (e instanceof E.NotCapable || e instanceof E.PermissionDenied) return "permission denied";
  if (e instanceof E.NotFound) return "no such file or directory";
  if (e instanceof E.AlreadyExists) return "file exists";
  if (e instanceof E.NotADirectory) return "not a directory";
  if (e instanceof E.IsADirectory) return "is a directory";
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/ \(os error \d+\)/, "").replace(/: \w+ '[^']*'$/, "");
}
