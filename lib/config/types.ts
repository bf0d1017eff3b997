/**
 * The typed, defaulted configuration that `parseConfig` produces from the file tree.
 * Durations are milliseconds.
 * @module
 */
import type { ConfigProblem } from "../errors/mod.ts";

/** How many nodes (counting this one) must see a failure: a count, or a percentage of all nodes. */
export type QuorumRule = { kind: "count"; count: number } | { kind: "percent"; percent: number };

export interface ListenAddress {
  hostname: string;
  port: number;
}

/** `dmonitor.yaml` top-level settings. */
export interface Settings {
  /** This node's name (default: the hostname). */
  node: string;
  listen: ListenAddress;
  quorum: QuorumRule;
  interval: number;
  /** Written in dmonitor.yaml, or the default: the smaller of 10 s and `interval`. */
  timeout: number;
  /** Where `timeout` was written (`dmonitor.yaml`); absent when it is the default. */
  timeoutFrom?: string;
  retries: number;
  state_dir: string;
  /** User plugins run as when dmonitor runs as root (default `nobody`). */
  plugin_user: string;
  /** Maximum plugins/checks running at once. */
  concurrency: number;
  /** How long check history is kept. */
  history_retention: number;
  /** Nagios WARNING counts as: "pass" (default) or "fail". */
  warning: "pass" | "fail";
  /** Nagios UNKNOWN counts as: "fail" (default) or "pass". */
  unknown: "pass" | "fail";
  /** Reminder interval while an incident stays down; 0 = no reminders. */
  remind: number;
  /** True when nodes.txt lists no peer: this node decides alone (quorum 1). */
  singleNode: boolean;
}

/** One peer from nodes.txt. */
export interface Peer {
  /** Host name or IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  /** The line as written, for messages. */
  raw: string;
  /** 1-based line number in nodes.txt. */
  line: number;
  /** Its node name: the line's second field; absent: the host as written (see `peerName`). */
  name?: string;
}

/** How a test is executed. */
export type Executor =
  | { kind: "plugin"; path: string; args: string[] | null }
  | { kind: "builtin"; name: string };

/** Scalar parameter value from a test file. */
export type ParamValue = string | number | boolean;

/** One `hosts.d/<host>/<test>` file. */
export interface TestConfig {
  host: string;
  test: string;
  /** Relative path, e.g. `hosts.d/www.example.com/ssh`. */
  file: string;
  executor: Executor;
  interval: number;
  timeout: number;
  retries: number;
  warning: "pass" | "fail";
  unknown: "pass" | "fail";
  /** Parameters other than the generic ones (port, path, expect_status, ...). */
  params: Record<string, ParamValue>;
}

/** One `alert.d/` entry. Email recipients are empty files named by address. */
export interface Recipient {
  kind: "email";
  address: string;
  file: string;
  /** The file's contents: empty, or a route (parsed by lib/alerts/route.ts). */
  content?: string;
}

/** What lib/config itself parses; the parts that own sections read it to parse theirs. */
export interface BaseConfig {
  /** Absolute path of the config root. */
  root: string;
  settings: Settings;
  peers: Peer[];
  tests: TestConfig[];
  recipients: Recipient[];
  /** Other alert.d entries (webhooks, commands) by file name, raw contents; parsed by the alerts part. */
  alertFiles: Record<string, string>;
  /** `silence.d/` entries by path relative to silence.d, raw contents; parsed by the alerts part. */
  silenceFiles: Record<string, string>;
  /** Contents of `peer.key`, trimmed, or null when absent. */
  peerKey: string | null;
}

/**
 * The whole configuration: the base plus each owner's typed section (alerts, peer, status, ...),
 * parsed once in the same pass by the {@link SectionParser}s given to `parseConfig`.
 */
export interface Config<S = Record<never, never>> extends BaseConfig {
  sections: S;
}

/**
 * A part's parser for what it owns in the tree: `key` is its key of dmonitor.yaml (null when it
 * reads only files, such as silence.d/); `parse` gets that key's raw value and the base
 * configuration, records every problem (file, key, value) in `problems`, and returns typed,
 * defaulted settings even when there are problems, so one pass reports everything.
 */
export interface SectionParser<T> {
  key: string | null;
  parse(raw: unknown, base: BaseConfig, problems: ConfigProblem[]): T;
}

// deno-lint-ignore no-explicit-any
export type SectionParsers = Record<string, SectionParser<any>>;

/** The typed sections that a table of section parsers produces. */
export type SectionsOf<P extends SectionParsers> = {
  [K in keyof P]: P[K] extends SectionParser<infer T> ? T : never;
};
