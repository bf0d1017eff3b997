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

/** The test certificates (testdata/tls). */
export const TLS = new URL("../testdata/tls/", import.meta.url).pathname;
/** Our server's own entry point. */
export const ENTRY = new URL("../lib/tentacle/server_main.ts", import.meta.url).pathname;
/** How the Perl reference is started as root (it refuses to run as root). */
export const asNobody = Deno.uid() === 0
  ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
  : [];

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The flags every benchmarked server gets, ours and the reference alike: storage `dir`,
 * 127.0.0.1:`port`, insecure mode, overwrite, and with `tls` mutual TLS with the test CA. */
export function serverFlags(dir: string, port: number, tls: boolean): string[] {
  return [
    "-s",
    dir,
    "-a",
    "127.0.0.1",
    "-p",
    String(port),
    "-I",
    "-o",
    ...(tls ? ["-e", `${TLS}server.crt`, "-k", `${TLS}server.key`, "-f", `${TLS}ca.crt`] : []),
  ];
}
