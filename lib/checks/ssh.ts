/**
 * `ssh`: OK when the server's first line is an SSH identification string (`SSH-2.0-...`).
 * RFC 4253 lets a server send other lines before it; in practice none do, and reading only the
 * first line makes a non-SSH service (say, HTTP on port 22) fail at once instead of timing out.
 * @module
 */
import { withTcp } from "./net.ts";
import { defineCheck, fail, fmtMs, ok, oneLine, quote, since, timePerf } from "./util.ts";

export const ssh = defineCheck({
  name: "ssh",
  doc: "Reads the SSH banner; OK when the first line starts with `SSH-`.",
  params: {
    port: { type: "port", default: 22, doc: "SSH port." },
  },
}, (ctx, p) => {
  const port = p.int("port");
  return withTcp(ctx, port, "the SSH banner", async (s) => {
    // An identification string is at most 255 bytes (RFC 4253 section 4.2).
    const line = await s.lines.readLine();
    const ms = since(s.t0);
    if (line === null) return fail(`${s.where} closed the connection before sending a banner`);
    const banner = oneLine(line);
    if (!banner.startsWith("SSH-")) {
      return fail(`${s.where} sent ${quote(banner)}, not an SSH banner`, timePerf(ms));
    }
    // Identify ourselves before closing, so sshd logs a clean disconnect rather than
    // "did not receive identification string".
    await s.tryWrite("SSH-2.0-dmonitor\r\n");
    return ok(`${banner.slice(0, 255)} on port ${port} in ${fmtMs(ms)}`, timePerf(ms));
  });
});
