// The dashboard's stylesheet (src/admin/dashboard.ts inlines it under the page's CSP nonce). Plain CSS with
// custom properties, a light and a dark scheme; long keys wrap instead of widening the page.
export const DASHBOARD_STYLE = `
:root{--ink:#1b2130;--muted:#5d667a;--line:#e3e6ee;--panel:#fff;--bg:#f5f6fa;--accent:#1c7c54;--stored:#3f5bd8;
--saved:#9fdcb8;--bad:#b42318;--head:#101828;--head-ink:#f2f4f7;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--ink:#e6e9f0;--muted:#9aa3b5;--line:#2a3140;--panel:#171c26;--bg:#0f131b;
--accent:#4ccf8f;--stored:#7b93ff;--saved:#2f6e4f;--bad:#ff8a80;--head:#0a0d13}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
.wrap{max-width:1120px;margin:0 auto;padding:0 24px}
.top{background:var(--head);color:var(--head-ink)}
.top-row{display:flex;flex-wrap:wrap;gap:16px;align-items:center;justify-content:space-between;padding-top:14px;padding-bottom:14px}
.brand{display:flex;gap:12px;align-items:center}
.logo{display:inline-grid;place-items:center;width:38px;height:38px;border-radius:9px;background:var(--accent);color:#fff;font-weight:700;font-size:22px}
h1{font-size:19px;margin:0;font-weight:650}
.sub{margin:0;font-size:13px;opacity:.75}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;font-size:14px}
.controls .muted{color:#b8bfcc}
select,button{font:inherit;font-size:14px;border-radius:7px;border:1px solid #3a4356;background:#1f2737;color:#f2f4f7;padding:6px 10px}
button{cursor:pointer}button:hover{background:#2b3548}
main.wrap{padding-top:22px;padding-bottom:40px}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 6px;font-weight:600}
.panel h2{font-size:15px;text-transform:none;letter-spacing:0;color:var(--ink)}
.muted{color:var(--muted)}
.problem{background:#fdecea;color:var(--bad);border:1px solid #f5c2bc;border-radius:8px;padding:10px 14px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));gap:14px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:16px 18px;min-width:0}
.big{font-size:30px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums;white-space:nowrap}
.card.saved .big{color:var(--accent)}
.note{margin:0;color:var(--muted);font-size:13px}
.meter{height:10px;border-radius:5px;background:var(--saved);margin:16px 0 6px;overflow:hidden}
.provenance{font-size:13px;margin:0}
.meter-stored{height:100%;width:0;background:var(--stored);transition:width .4s}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:16px 18px;margin-top:16px;min-width:0}
.panel>p.muted{font-size:13px;margin:0 0 10px}
.legend{font-size:13px;margin:0 0 8px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:3px;margin:0 5px 0 10px;vertical-align:-1px}
.swatch.stored{background:var(--stored);margin-left:0}.swatch.saved{background:var(--saved)}
.chart{overflow-x:auto}
.chart svg{display:block;width:100%;min-width:640px;height:auto}
.chart text{fill:var(--ink);font:13px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.chart .dim{fill:var(--muted)}
.chart .bar-saved{fill:var(--saved)}.chart .bar-stored{fill:var(--stored)}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
@media (max-width:860px){.two{grid-template-columns:minmax(0,1fr)}}
.two .panel{margin-top:16px}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse;font-size:14px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em;border-bottom:1px solid var(--line);padding:6px 8px}
td{border-bottom:1px solid var(--line);padding:7px 8px;vertical-align:top}
tr:last-child td{border-bottom:0}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.key{overflow-wrap:anywhere;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px}
.nowrap{white-space:nowrap}
.current td{font-weight:600}
.good{color:var(--accent)}.bad{color:var(--bad)}
.tag{display:inline-block;font-size:12px;border-radius:10px;padding:1px 8px;background:var(--bg);border:1px solid var(--line);white-space:nowrap}
.empty{color:var(--muted);padding:10px 0;margin:0}
`;
