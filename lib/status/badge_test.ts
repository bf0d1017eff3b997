import assert from "node:assert/strict";
import { badgeFor, parseBadgeWindow, uptimeColor } from "./badge.ts";
import { sampleView } from "./testing.ts";

Deno.test("badgeFor: the state badge, exact", () => {
  const [up, down] = sampleView().checks;
  assert.equal(
    badgeFor(up!, null),
    '<svg xmlns="http://www.w3.org/2000/svg" width="174" height="20" role="img" aria-label="www.example.com https: UP">' +
      "<title>www.example.com https: UP</title>" +
      '<rect width="149" height="20" fill="#555"/><rect x="149" width="25" height="20" fill="#1a7f37"/>' +
      '<g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11" text-anchor="middle">' +
      '<text x="74.5" y="14">www.example.com https</text><text x="161.5" y="14">UP</text></g></svg>',
  );
  assert.match(badgeFor(down!, null), /fill="#cf222e"\/>.*>DOWN<\/text>/);
});

Deno.test("badgeFor: the uptime badge over a window, exact; unknown uptime is grey", () => {
  const checks = sampleView().checks;
  assert.equal(
    badgeFor(checks[0]!, "30d"),
    '<svg xmlns="http://www.w3.org/2000/svg" width="154" height="20" role="img" aria-label="https uptime 30d: 99.94%">' +
      "<title>https uptime 30d: 99.94%</title>" +
      '<rect width="104" height="20" fill="#555"/><rect x="104" width="50" height="20" fill="#1a7f37"/>' +
      '<g fill="#fff" font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11" text-anchor="middle">' +
      '<text x="52" y="14">https uptime 30d</text><text x="129" y="14">99.94%</text></g></svg>',
  );
  assert.match(badgeFor(checks[3]!, "24h"), /aria-label="ping uptime 24h: —".*fill="#6e7781"/);
  assert.match(badgeFor(checks[0]!, "24h"), /98\.26%.*|fill="#cf222e"/);
});

Deno.test("parseBadgeWindow and uptimeColor", () => {
  assert.equal(parseBadgeWindow(undefined), null);
  assert.equal(parseBadgeWindow("7d"), "7d");
  assert.equal(
    (parseBadgeWindow("1w") as Error).message,
    `'window' must be 24h, 7d or 30d, got "1w"`,
  );
  assert.deepEqual([1, 0.999, 0.995, 0.5, null].map(uptimeColor), [
    "#1a7f37",
    "#1a7f37",
    "#9a6700",
    "#cf222e",
    "#6e7781",
  ]);
});
