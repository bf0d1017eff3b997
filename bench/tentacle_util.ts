/**
 * What the Tentacle benchmarks share.
 * @module
 */

/** Waits until a Tentacle server accepts on 127.0.0.1:`port` (about 10 s at most). QUIT, not just
 * a close: the reference with -q never leaves its read loop on a connection closed before a
 * command, and one of its threads would spin at 100% CPU from then on. */
export async function waitForTentacle(port: number, name: string): Promise<void> {
  for (let i = 0;; i++) {
    try {
      const probe = await Deno.connect({ hostname: "127.0.0.1", port });
      await probe.write(new TextEncoder().encode("QUIT\n"));
      probe.close();
      return;
    } catch {
      if (i > 200) throw new Error(`${name} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
