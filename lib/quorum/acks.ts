/**
 * Waiting for an announcement: once one peer has taken it in, every other peer learns it from
 * that peer's answers in its own rounds (a node adopts a committed notice from any view), so the
 * notifier need not wait for the slowest or an unreachable peer before handing the notification
 * on. The other pushes go on, each bounded by its own deadline.
 * @module
 */

/**
 * Resolves when the first push resolves with `null` (taken in), or when all have resolved
 * (nobody took it in). Never rejects: a push that rejects counts as not taken in.
 * @example
 * await firstTakenIn([slowPeer.push(view), fastPeer.push(view)]); // after the fast one
 */
export function firstTakenIn(pushes: readonly Promise<string | null>[]): Promise<void> {
  if (pushes.length === 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let left = pushes.length;
    for (const p of pushes) {
      p.then((error) => error === null, () => false).then((ok) => {
        left--;
        if (ok || left === 0) resolve();
      });
    }
  });
}
