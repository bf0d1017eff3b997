import assert from "node:assert/strict";
import type { AgreementView } from "../agree/tracker.ts";
import { REGISTRY } from "../metrics/mod.ts";
import { viewFamilies } from "./metrics.ts";
import { renderPage } from "./page.tsx";
import { renderText } from "./text.ts";
import { sampleView } from "./testing.ts";

const agreement: AgreementView = {
  digest: "aaaaaaaaaaaaaaaa",
  peers: [
    {
      address: "10.0.0.2:2929",
      node: "n2",
      digest: "aaaaaaaaaaaaaaaa",
      agrees: true,
      differenceCount: 0,
      differences: [],
      error: null,
    },
    {
      address: "10.0.0.3:2929",
      node: "n3",
      digest: "bbbbbbbbbbbbbbbb",
      agrees: false,
      differenceCount: 51,
      differences: [{
        key: "h/tcp",
        change: "differs",
        text: "h/tcp: param port: 22 on n1, 23 on n3",
      }],
      error: null,
    },
    {
      address: "10.0.0.4:2929",
      node: null,
      digest: null,
      agrees: null,
      differenceCount: 0,
      differences: [],
      error: null,
    },
    {
      address: "10.0.0.5:2929",
      node: "n5",
      digest: "cccccccccccccccc",
      agrees: false,
      differenceCount: 0,
      differences: [],
      error: "no answer within 5000 ms",
    },
  ],
  unconfirmable: [{
    host: "h",
    test: "ssh",
    nodes: ["n1"],
    unknown: 0,
    needed: 2,
    message: "h/ssh: configured on 1 node, quorum 2: it can never be confirmed",
  }],
};

Deno.test("renderText: the configuration section and the warnings under the headline", () => {
  const text = renderText(sampleView({ agreement }));
  const lines = text.split("\n");
  assert.equal(lines[2], "CONFIGURATION DIFFERS on n3, n5 (see Configuration below)");
  assert.equal(lines[3], "1 test can never be confirmed (see Configuration below)");
  const at = lines.indexOf("Configuration (digest aaaaaaaaaaaaaaaa)");
  assert.deepEqual(lines.slice(at, at + 9), [
    "Configuration (digest aaaaaaaaaaaaaaaa)",
    "  n2 (10.0.0.2:2929)  agrees",
    "  n3 (10.0.0.3:2929)  DIFFERS (digest bbbbbbbbbbbbbbbb): 51 entries differ",
    "      h/tcp: param port: 22 on n1, 23 on n3",
    "      ... and 50 more",
    "  10.0.0.4:2929  not known yet",
    "  n5 (10.0.0.5:2929)  DIFFERS (digest cccccccccccccccc): cannot fetch its entries: no answer within 5000 ms",
    "  h/ssh: configured on 1 node, quorum 2: it can never be confirmed",
    "",
  ]);
  assert.ok(!renderText(sampleView()).includes("Configuration"), "absent without agreement");
});

Deno.test("page and metrics: the same agreement", () => {
  const page = renderPage(sampleView({ agreement }), { refreshSeconds: 10 });
  assert.match(
    page,
    /id="agreement-banner"[^>]*>CONFIGURATION DIFFERS on n3, n5\. 1 test can never be confirmed\./,
  );
  assert.ok(page.includes("h/tcp: param port: 22 on n1, 23 on n3"));
  assert.ok(page.includes("cannot fetch its entries: no answer within 5000 ms"));
  const m = REGISTRY.render(viewFamilies(sampleView({ agreement })));
  for (
    const line of [
      'dmonitor_peer_config_agrees{peer="10.0.0.2:2929"} 1',
      'dmonitor_peer_config_agrees{peer="10.0.0.3:2929"} 0',
      'dmonitor_peer_config_differences{peer="10.0.0.3:2929"} 51',
      'dmonitor_peer_config_differs{peer="10.0.0.3:2929",key="h/tcp",change="differs"} 1',
      'dmonitor_check_unconfirmable{host="h",test="ssh"} 1',
    ]
  ) assert.ok(m.includes(line + "\n"), line);
  assert.ok(!m.includes('peer="10.0.0.4:2929"} '), "unknown peers are absent");
});
