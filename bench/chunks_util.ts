/** For the benches of chunked responses (metrics_render.ts, status_page.ts). @module */

/** Runs `chunks` to the end: how many there were and how long the longest took to render (ms). */
export function timeChunks(chunks: Iterator<string>): { count: number; longestMs: number } {
  let longestMs = 0;
  let count = 0;
  for (;;) {
    const t = performance.now();
    const next = chunks.next();
    longestMs = Math.max(longestMs, performance.now() - t);
    if (next.done) return { count, longestMs };
    count++;
  }
}
