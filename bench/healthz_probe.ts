/**
 * Times `GET /healthz` on each address given, one after another, then waits 100 ms, until stdin
 * closes or SIGTERM. Each sample is one line on stdout: `<epoch ms> <index> <latency ms>`, or
 * `<epoch ms> <index> error` when the request failed. A process of its own, so the latency is
 * the node's (and the machine's), not that of a bench process that is also busy receiving
 * webhooks and serving the checks' targets.
 *
 *   deno run -A bench/healthz_probe.ts 127.0.0.1:2929 127.0.0.2:2929 ...
 * @module
 */
const addrs = Deno.args;
let stop = false;
Deno.addSignalListener("SIGTERM", () => stop = true);
const out = Deno.stdout.writable.getWriter();
const enc = new TextEncoder();
while (!stop) {
  let lines = "";
  for (const [i, a] of addrs.entries()) {
    const t0 = performance.now();
    try {
      const r = await fetch(`http://${a}/healthz`, { signal: AbortSignal.timeout(30_000) });
      await r.text();
      lines += `${Date.now()} ${i} ${(performance.now() - t0).toFixed(1)}\n`;
    } catch {
      lines += `${Date.now()} ${i} error\n`;
    }
  }
  await out.write(enc.encode(lines));
  await new Promise((r) => setTimeout(r, 100));
}
await out.close();
