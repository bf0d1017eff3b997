/**
 * The result of one check run, whatever ran it (a plugin or a built-in check).
 * @module
 */

/** The pass/fail decision that schedules, quorum and alerts act on. TIMEOUT counts as a failure. */
export type Status = "OK" | "FAIL" | "TIMEOUT";

/**
 * What the check itself said, before mapping to {@link Status}: the dmonitor contract yields OK or
 * FAIL; the Nagios contract yields OK, WARNING, CRITICAL or UNKNOWN; ERROR means the check could not
 * run at all (missing plugin, unsafe permissions, bad interpreter); TIMEOUT means it was killed.
 */
export type RawState = "OK" | "FAIL" | "WARNING" | "CRITICAL" | "UNKNOWN" | "ERROR" | "TIMEOUT";

export interface CheckResult {
  host: string;
  test: string;
  status: Status;
  state: RawState;
  /** One line for humans (plugin text before `|`, or the built-in check's summary), at most 1 KiB. */
  output: string;
  /** Nagios perfdata (text after `|`), "" when none; parse with lib/runner/perfdata.ts. */
  perfdata: string;
  /**
   * A plugin's stderr as one line (at most 1 KiB), absent when it wrote none. For a failing check
   * it is also in `output` (` [stderr: ...]`, or as the whole output when stdout was empty).
   */
  stderr?: string;
  /** Plugin exit code; null for built-ins and killed plugins. */
  exitCode: number | null;
  /** Epoch milliseconds when the run started. */
  startedAt: number;
  durationMs: number;
}
