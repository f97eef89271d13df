/**
 * The dashboard page: one HTML document with inline CSS and the script from its own server (no
 * external assets, no network beyond that server, which the CSP header enforces). It charts
 * metrics over steps as SVG, shows the latest sample responses and validation scores, and follows
 * the run live over /events. The script is TypeScript in dashboard-client/, type-checked against
 * the DOM and built for the browser by tsconfig.client.json (this package's Node code compiles
 * without DOM types).
 */

export { DEFAULT_CHARTS } from './dashboard-client/model.js';

/** The page's script, served by the dashboard server from the browser build (dashboard-client/). */
export const DASHBOARD_SCRIPT_PATH = '/client/browser/main.js';

const STYLE = String.raw`
:root { --fg:#1d232a; --muted:#6a737d; --bg:#f6f8fa; --card:#fff; --line:#d0d7de; --accent:#1f6feb; --good:#1a7f37; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:baseline; gap:16px; padding:12px 20px; background:var(--card); border-bottom:1px solid var(--line); flex-wrap:wrap; }
h1 { font-size:18px; margin:0; }
h2 { font-size:15px; margin:18px 20px 8px; }
#status { font-size:12px; padding:2px 8px; border-radius:10px; background:#eee; }
#status.live { background:#dafbe1; color:var(--good); } #status.down { background:#ffebe9; color:var(--bad); } #status.done { background:#ddf4ff; color:var(--accent); }
#summary { color:var(--muted); }
details { margin:10px 20px 0; } summary { cursor:pointer; color:var(--accent); }
#keys { display:flex; flex-wrap:wrap; gap:4px 14px; margin-top:8px; font-size:12px; }
#keys label { white-space:nowrap; }
#charts { display:grid; grid-template-columns:repeat(auto-fill, minmax(340px, 1fr)); gap:12px; padding:12px 20px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:8px 10px; min-width:0; }
.card .head { display:flex; justify-content:space-between; gap:8px; font-size:12px; }
.card .name { font-weight:600; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.card .last { font-variant-numeric:tabular-nums; color:var(--muted); white-space:nowrap; }
svg { display:block; width:100%; height:150px; }
svg text { font-size:10px; fill:var(--muted); font-variant-numeric:tabular-nums; }
.empty { color:var(--muted); padding:20px; }
.group { grid-column:1 / -1; font-weight:600; font-size:13px; margin-top:4px; }
.group:empty { display:none; }
#samples, #validation { padding:0 20px 12px; }
.sample { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:8px 10px; margin-bottom:8px; }
.sample pre { margin:4px 0; white-space:pre-wrap; word-break:break-word; font:12px/1.35 ui-monospace, Menlo, Consolas, monospace; }
.sample .prompt { color:var(--muted); max-height:6.5em; overflow:auto; }
.sample .meta { font-size:12px; color:var(--muted); }
.score { font-weight:600; } .score.pos { color:var(--good); } .score.zero { color:var(--bad); }
table { border-collapse:collapse; background:var(--card); font-size:12px; }
td { border:1px solid var(--line); padding:3px 8px; font-variant-numeric:tabular-nums; }
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function dashboardHtml(title: string): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t} · tinyzero dashboard</title><style>${STYLE}</style></head>
<body>
<header><h1>${t}</h1><span id="status">connecting…</span><span id="summary"></span></header>
<details><summary>Metrics (<span id="nkeys">0</span>): choose what to chart</summary><div id="keys"></div></details>
<main id="charts"></main>
<section id="validation"></section>
<h2 id="samples-title">Latest samples</h2>
<section id="samples"><div id="sample-list"></div></section>
<script type="module" src="${DASHBOARD_SCRIPT_PATH}"></script>
</body></html>
`;
}
