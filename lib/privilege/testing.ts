/**
 * Test support: a tentacle-server process started as root switches to dmonitor (or nobody), so a
 * storage directory made by a root test must be handed to that user first, as an operator would.
 * @module
 */
import { planDrop } from "./plan.ts";

/** The user a root-started tentacle-server runs as here, or null when the tests are not root. */
export function serverUser(): { uid: number; gid: number } | null {
  if (Deno.uid() !== 0) return null;
  const plan = planDrop(0, undefined, Deno.readTextFileSync("/etc/passwd"));
  return plan.kind === "drop" ? { uid: plan.uid, gid: plan.gid } : null;
}

/** chown -R `dir` to {@link serverUser} (nothing when not root). */
export async function giveToServerUser(dir: string): Promise<void> {
  const u = serverUser();
  if (!u) return;
  const r = await new Deno.Command("chown", { args: ["-R", `${u.uid}:${u.gid}`, dir] }).output();
  if (!r.success) throw new Error(`chown -R ${dir}: ${new TextDecoder().decode(r.stderr)}`);
}
