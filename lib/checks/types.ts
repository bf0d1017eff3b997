/**
 * The contract every built-in check implements. The config parser validates a test file's
 * parameters against `params` before anything runs.
 * @module
 */
import type { ParamValue } from "../config/types.ts";

export type ParamType = "port" | "int" | "string" | "bool" | "duration";

export interface ParamSpec {
  type: ParamType;
  /** Default value; absent means the parameter is optional with no default (unless `required`). */
  default?: ParamValue;
  /** The config parser reports a test file that omits this parameter. */
  required?: boolean;
  /** Inclusive bounds for `int`, and for `duration` (in ms). */
  min?: number;
  max?: number;
  /** Shortest accepted `string`. */
  minLength?: number;
  /** One line for the README and `--help`. */
  doc: string;
}

export interface CheckContext {
  host: string;
  /** The test's name (its file name under hosts.d/<host>/). */
  test?: string;
  /** The test's interval (ms). */
  intervalMs?: number;
  /** Validated parameters, defaults applied. */
  params: Record<string, ParamValue>;
  /** Aborted when the check's timeout elapses or the node shuts down. */
  signal: AbortSignal;
  timeoutMs: number;
}

export interface CheckOutcome {
  status: "OK" | "FAIL";
  /** One line for humans, e.g. `SSH-2.0-OpenSSH_9.2 on port 22 in 3 ms`. */
  output: string;
  /** Optional Nagios-style perfdata, e.g. `time=0.003s`. */
  perfdata?: string;
}

export interface BuiltinCheck {
  name: string;
  /** One line for the README. */
  doc: string;
  params: Record<string, ParamSpec>;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}
