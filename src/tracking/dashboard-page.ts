/**
 * The dashboard page: one HTML document with inline CSS and JS (no external assets, no network
 * beyond its own server, which the CSP header enforces). It charts metrics over steps as SVG, shows
 * the latest sample responses and validation scores, and follows the run live over /events.
 *
 * The script is browser JavaScript kept in a string (this package compiles without DOM types); it
 * avoids backticks and template interpolation so it can sit inside String.raw unchanged. The page
 * test compiles it with node:vm to catch syntax errors.
 */

/** Charted by default when present; every `val/*` metric is added to these. */
export const DEFAULT_CHARTS: readonly string[] = [
  'critic/score/mean', 'critic/rewards/mean', 'response_length/mean', 'actor/pg_loss',
  'actor/entropy_loss', 'actor/entropy', 'actor/ppo_kl', 'critic/vf_loss', 'timing_s/step',
];

const STYLE = String.raw`
:root { --fg:#1d232a; --muted:#6a737d; --bg:#f6f8fa; --card:#fff; --line:#d0d7de; --accent:#1f6feb; --good:#1a7f37; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:baseline; gap:16px; padding:12px 20px; background:var(--card); border-bottom:1px solid var(--line); flex-wrap:wrap; }
h1 { font-size:18px; margin:0; }
h2 { font-size:15px; margin:18px 20px 8px; }
#status { font-size:12px; padding:2px 8px; border-radius:10px; background:#eee; }
#status.live { background:#dafbe1; color:var(--good); } #status.down { background:#ffebe9; color:var(--bad); }
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
#samples, #validation { padding:0 20px 12px; }
.sample { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:8px 10px; margin-bottom:8px; }
.sample pre { margin:4px 0; white-space:pre-wrap; word-break:break-word; font:12px/1.35 ui-monospace, Menlo, Consolas, monospace; }
.sample .prompt { color:var(--muted); max-height:6.5em; overflow:auto; }
.sample .meta { font-size:12px; color:var(--muted); }
.score { font-weight:600; } .score.pos { color:var(--good); } .score.zero { color:var(--bad); }
table { border-collapse:collapse; background:var(--card); font-size:12px; }
td { border:1px solid var(--line); padding:3px 8px; font-variant-numeric:tabular-nums; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var DEFAULTS = __DEFAULTS__;
  var SVGNS = 'http://www.w3.org/2000/svg';
  var rows = [], byStep = {}, keys = [], seen = {}, chosen = {}, touched = false;
  var run = null, samples = null, validation = null, ended = null, pending = false;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function num(v) {
    if (typeof v === 'number') return v;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    return NaN;
  }
  function fmt(v) {
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }

  function addRow(r) {
    if (!r || typeof r.step !== 'number') return;
    if (byStep[r.step] !== undefined) rows[byStep[r.step]] = r;
    else {
      rows.push(r);
      if (rows.length > 1 && rows[rows.length - 2].step > r.step) {
        rows.sort(function (a, b) { return a.step - b.step; });
        byStep = {};
        rows.forEach(function (x, i) { byStep[x.step] = i; });
      } else byStep[r.step] = rows.length - 1;
    }
    Object.keys(r).forEach(function (k) {
      if (k === 'step' || k === 'time' || seen[k]) return;
      seen[k] = true; keys.push(k);
      if (!touched && (DEFAULTS.indexOf(k) >= 0 || k.indexOf('val/') === 0)) chosen[k] = true;
    });
  }

  function chosenKeys() {
    var list = keys.filter(function (k) { return chosen[k]; });
    list.sort(function (a, b) {
      var ia = DEFAULTS.indexOf(a), ib = DEFAULTS.indexOf(b);
      if (ia < 0) ia = a.indexOf('val/') === 0 ? 100 : 200;
      if (ib < 0) ib = b.indexOf('val/') === 0 ? 100 : 200;
      return ia - ib || (a < b ? -1 : a > b ? 1 : 0);
    });
    if (list.length === 0 && !touched) list = keys.slice(0, 6);
    return list;
  }

  function svg(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }

  function chart(key, width) {
    var card = el('div', 'card');
    card.dataset.key = key;
    var head = el('div', 'head');
    head.appendChild(el('span', 'name', key));
    var last = el('span', 'last', '');
    head.appendChild(last);
    card.appendChild(head);
    var pts = [];
    rows.forEach(function (r) { if (key in r) { var v = num(r[key]); if (isFinite(v)) pts.push([r.step, v]); } });
    var lastRow = null;
    for (var i = rows.length - 1; i >= 0; i--) if (key in rows[i]) { lastRow = rows[i]; break; }
    if (lastRow) last.textContent = 'step ' + lastRow.step + ': ' + fmt(num(lastRow[key]));
    var H = 150, L = 48, R = 8, T = 8, B = 18, W = Math.max(200, width);
    var s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' });
    s.setAttribute('aria-label', key);
    if (pts.length === 0) {
      var t = svg('text', { x: L, y: H / 2 }); t.textContent = 'no finite values yet'; s.appendChild(t);
      card.appendChild(s); return card;
    }
    var x0 = pts[0][0], x1 = pts[pts.length - 1][0], y0 = Infinity, y1 = -Infinity;
    pts.forEach(function (p) { if (p[1] < y0) y0 = p[1]; if (p[1] > y1) y1 = p[1]; });
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { var pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
    var X = function (x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    var Y = function (y) { return T + (1 - (y - y0) / (y1 - y0)) * (H - T - B); };
    for (var g = 0; g <= 3; g++) {
      var yv = y0 + (y1 - y0) * g / 3, yy = Y(yv);
      s.appendChild(svg('line', { x1: L, x2: W - R, y1: yy, y2: yy, stroke: '#eaeef2' }));
      var lab = svg('text', { x: L - 4, y: yy + 3, 'text-anchor': 'end' }); lab.textContent = fmt(yv); s.appendChild(lab);
    }
    var xl = svg('text', { x: L, y: H - 4 }); xl.textContent = String(pts[0][0]); s.appendChild(xl);
    var xr = svg('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }); xr.textContent = 'step ' + pts[pts.length - 1][0]; s.appendChild(xr);
    var d = pts.map(function (p, j) { return (j ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1); }).join(' ');
    s.appendChild(svg('path', { d: d, fill: 'none', stroke: '#1f6feb', 'stroke-width': 1.5 }));
    if (pts.length <= 60) pts.forEach(function (p) { s.appendChild(svg('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2, fill: '#1f6feb' })); });
    var cursor = svg('line', { y1: T, y2: H - B, stroke: '#8c959f', 'stroke-dasharray': '3 3', visibility: 'hidden' });
    s.appendChild(cursor);
    s.addEventListener('mousemove', function (ev) {
      var box = s.getBoundingClientRect();
      var xs = x0 + ((ev.clientX - box.left) * W / box.width - L) / (W - L - R) * (x1 - x0);
      var best = pts[0];
      pts.forEach(function (p) { if (Math.abs(p[0] - xs) < Math.abs(best[0] - xs)) best = p; });
      cursor.setAttribute('x1', X(best[0])); cursor.setAttribute('x2', X(best[0])); cursor.setAttribute('visibility', 'visible');
      last.textContent = 'step ' + best[0] + ': ' + fmt(best[1]);
    });
    s.addEventListener('mouseleave', function () {
      cursor.setAttribute('visibility', 'hidden');
      if (lastRow) last.textContent = 'step ' + lastRow.step + ': ' + fmt(num(lastRow[key]));
    });
    card.appendChild(s);
    return card;
  }

  function renderKeys() {
    var box = $('keys');
    $('nkeys').textContent = String(keys.length);
    if (box.childElementCount === keys.length) {
      Array.prototype.forEach.call(box.querySelectorAll('input'), function (i) { i.checked = !!chosen[i.value]; });
      return;
    }
    box.textContent = '';
    keys.slice().sort().forEach(function (k) {
      var lab = el('label'), box2 = el('input');
      box2.type = 'checkbox'; box2.value = k; box2.checked = !!chosen[k];
      box2.addEventListener('change', function () { touched = true; chosen[k] = box2.checked; schedule(); });
      lab.appendChild(box2); lab.appendChild(document.createTextNode(' ' + k));
      box.appendChild(lab);
    });
  }

  function renderSummary() {
    var parts = [];
    if (run && (run.project || run.experiment)) parts.push([run.project, run.experiment].filter(Boolean).join(' / '));
    var lastStep = rows.length ? rows[rows.length - 1] : null;
    if (lastStep) parts.push('step ' + lastStep.step + (run && run.totalSteps ? ' of ' + run.totalSteps : ''));
    if (lastStep && lastStep.time) parts.push('last log ' + new Date(lastStep.time).toLocaleTimeString());
    if (ended) parts.push('run ' + ended.status + (ended.message ? ': ' + ended.message : ''));
    $('summary').textContent = parts.join(' \u00b7 ');
  }

  function renderSamples() {
    var box = $('sample-list');
    box.textContent = '';
    if (!samples || !samples.samples || !samples.samples.length) { box.appendChild(el('div', 'empty', 'no samples logged yet')); return; }
    $('samples-title').textContent = 'Latest samples (step ' + samples.step + (samples.split ? ', ' + samples.split : '') + ')';
    samples.samples.slice(0, 12).forEach(function (x) {
      var c = el('div', 'sample'), meta = el('div', 'meta');
      if (typeof x.score === 'number' || typeof x.score === 'string') {
        var sc = num(x.score), b = el('span', 'score ' + (sc > 0 ? 'pos' : 'zero'), 'score ' + fmt(sc));
        meta.appendChild(b);
      }
      if (x.dataSource) meta.appendChild(document.createTextNode('  ' + x.dataSource));
      if (x.groundTruth !== undefined) meta.appendChild(document.createTextNode('  ground truth: ' + (typeof x.groundTruth === 'string' ? x.groundTruth : JSON.stringify(x.groundTruth))));
      c.appendChild(meta);
      c.appendChild(el('pre', 'prompt', String(x.prompt)));
      c.appendChild(el('pre', 'response', String(x.response)));
      box.appendChild(c);
    });
  }

  function renderValidation() {
    var box = $('validation');
    box.textContent = '';
    if (!validation || !validation.metrics) return;
    box.appendChild(el('h2', '', 'Validation (step ' + validation.step + ')'));
    var t = el('table');
    Object.keys(validation.metrics).forEach(function (k) {
      var tr = el('tr'); tr.appendChild(el('td', '', k)); tr.appendChild(el('td', '', fmt(num(validation.metrics[k])))); t.appendChild(tr);
    });
    box.appendChild(t);
  }

  function render() {
    pending = false;
    var box = $('charts');
    var width = Math.floor((box.clientWidth - 40) / Math.max(1, Math.floor((box.clientWidth - 40) / 352))) - 22;
    box.textContent = '';
    var list = chosenKeys();
    if (!list.length) box.appendChild(el('div', 'empty', 'waiting for the first step\u2026'));
    list.forEach(function (k) { box.appendChild(chart(k, width)); });
    renderKeys(); renderSummary(); renderSamples(); renderValidation();
  }
  function schedule() { if (!pending) { pending = true; requestAnimationFrame(render); } }

  function load() {
    return fetch('/metrics').then(function (r) { return r.json(); }).then(function (arr) {
      arr.forEach(addRow); schedule();
    }).catch(function () {});
  }

  function setStatus(text, cls) { var s = $('status'); s.textContent = text; s.className = cls; }
  var es = new EventSource('/events');
  // Load the history once the stream is open so no step falls between the two; rows merge by step.
  es.onopen = function () { setStatus('live', 'live'); load(); };
  es.onerror = function () { setStatus(ended ? 'run ended' : 'reconnecting\u2026', 'down'); };
  es.addEventListener('metrics', function (e) { addRow(JSON.parse(e.data)); schedule(); });
  es.addEventListener('run_start', function (e) { run = JSON.parse(e.data); ended = null; schedule(); });
  es.addEventListener('samples', function (e) { samples = JSON.parse(e.data); schedule(); });
  es.addEventListener('validation', function (e) { validation = JSON.parse(e.data); schedule(); });
  es.addEventListener('run_end', function (e) { ended = JSON.parse(e.data); schedule(); });
  es.addEventListener('reset', function () { rows = []; byStep = {}; load(); });
  window.addEventListener('resize', schedule);
  schedule();
})();
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page's inline script, for the syntax test. */
export function dashboardScript(): string {
  // JSON in a script: escape '<' so no value can close the script element.
  return SCRIPT.replace('__DEFAULTS__', JSON.stringify(DEFAULT_CHARTS).replace(/</g, '\\u003c'));
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
<script>${dashboardScript()}</script>
</body></html>
`;
}
