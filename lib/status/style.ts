/** The page's only stylesheet, inlined: no external assets, readable from 320px phones up. */
export const CSS = `
:root{color-scheme:light dark;--ok:#1a7f37;--bad:#cf222e;--wait:#6e7781;--warn:#9a6700;--unknown:#8250df;--bg:#fff;--fg:#1f2328;--mute:#59636e;--line:#d1d9e0;--card:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--ok:#3fb950;--bad:#f85149;--wait:#8b949e;--warn:#d29922;--unknown:#a371f7;--bg:#0d1117;--fg:#e6edf3;--mute:#9198a1;--line:#3d444d;--card:#151b23}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:60rem;margin:0 auto;padding:.75rem}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:.25rem 1rem;border-bottom:1px solid var(--line);padding-bottom:.5rem}
h1{font-size:1.25rem;margin:0}
h2{font-size:1.05rem;margin:1.25rem 0 .5rem}
.meta,.small{color:var(--mute);font-size:.85rem}
.headline{font-size:1.35rem;font-weight:600;margin:.75rem 0;padding:.6rem .8rem;border-radius:.4rem;border-left:.4rem solid var(--ok);background:var(--card)}
.headline.bad{border-left-color:var(--bad)}
.headline.wait{border-left-color:var(--wait)}
.banner{margin:.75rem 0;padding:.6rem .8rem;border-radius:.4rem;border:2px solid var(--warn);font-weight:600}
ul.rows{list-style:none;margin:0;padding:0}
ul.rows li{display:grid;grid-template-columns:5rem 1fr auto;gap:.1rem .6rem;padding:.5rem .25rem;border-bottom:1px solid var(--line);align-items:baseline}
.name{font-weight:600;overflow-wrap:anywhere}
.out{grid-column:2/4;color:var(--mute);font-size:.9rem;overflow-wrap:anywhere;font-family:ui-monospace,"DejaVu Sans Mono",monospace}
ul.perf{grid-column:2/4;list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:0 .9rem;color:var(--mute);font-size:.8rem;overflow-wrap:anywhere;font-family:ui-monospace,"DejaVu Sans Mono",monospace}
ul.rows li ul.perf li{display:list-item;padding:0;border:0}
.when{color:var(--mute);font-size:.85rem;text-align:right;white-space:nowrap}
.badge{display:inline-block;min-width:4.6rem;white-space:nowrap;text-align:center;font-weight:700;font-size:.8rem;letter-spacing:.03em;padding:.1rem .3rem;border-radius:.3rem;color:#fff;background:var(--wait)}
.badge.ok{background:var(--ok)}
.badge.bad{background:var(--bad)}
.badge.warn{background:var(--warn)}
.badge.unknown{background:var(--unknown)}
.badge.local{background:transparent;color:var(--bad);box-shadow:inset 0 0 0 2px var(--bad)}
.badge.muted{background:transparent;color:var(--mute);box-shadow:inset 0 0 0 2px var(--wait);text-decoration:line-through}
li.check.local-only .name,li.check.silenced .name{font-weight:400}
.card{border:1px solid var(--line);border-left:.4rem solid var(--bad);border-radius:.4rem;padding:.6rem .8rem;margin:.5rem 0;background:var(--card)}
.card h3{margin:0 0 .3rem;font-size:1rem;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
td .badge{min-width:0}
th{color:var(--mute);font-weight:600;white-space:nowrap}
.scroll{overflow-x:auto}
ul.notices{margin:.3rem 0;padding-left:1.1rem;font-size:.85rem;overflow-wrap:anywhere}
ul.notices li.bad{color:var(--bad);font-weight:600}
a{color:inherit}
a.name{text-decoration:none}
a.name:hover{text-decoration:underline}
.hist{grid-column:2/4;display:flex;flex-wrap:wrap;gap:.1rem 1rem;align-items:flex-start;font-size:.78rem;color:var(--mute)}
.hist .upt{flex:1 1 100%}
.hist .upt b{color:var(--fg)}
figure{margin:0;flex:1 1 13rem;min-width:0}
figcaption{display:flex;justify-content:space-between;font-size:.72rem;color:var(--mute)}
.pic,.pic svg{display:block;width:100%}
svg.tl{height:.75rem}
svg.rt{height:1.9rem}
svg.days{height:1.2rem}
svg.series{height:1.6rem}
.s-ok{fill:var(--ok)}.s-bad{fill:var(--bad)}.s-warn{fill:var(--warn)}.s-unknown{fill:var(--unknown)}.s-none{fill:var(--line)}
.rt-max,.rt-avg,.rt-bad{stroke-width:3;fill:none}.rt-max{stroke:var(--line)}.rt-avg{stroke:var(--mute)}.rt-bad{stroke:var(--bad)}
svg.series rect{fill:var(--mute)}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
.card.closed{border-left-color:var(--line)}
h1 a{text-decoration:none}
.headline .badge{vertical-align:middle}
figure.daysf{flex:1 1 100%}
.empty{color:var(--mute);font-style:italic}
#agreement .out{white-space:pre-line}
footer{margin:1.5rem 0 .5rem;color:var(--mute);font-size:.8rem}
@media (max-width:30rem){main{padding:.5rem}th,td{padding:.25rem}}
`;
