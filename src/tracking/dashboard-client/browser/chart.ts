/** One chart card: a metric over steps as SVG, with a cursor that reads the nearest step. */
import { buildSeries, fmt, type MetricsRow } from '../model.js';

const SVGNS = 'http://www.w3.org/2000/svg';

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export function chart(rows: readonly MetricsRow[], key: string, width: number): HTMLDivElement {
  const card = el('div', 'card');
  card.dataset.key = key;
  const head = el('div', 'head');
  head.appendChild(el('span', 'name', key));
  const last = el('span', 'last', '');
  head.appendChild(last);
  card.appendChild(head);
  const H = 150, L = 48, R = 8, T = 8, B = 18, W = Math.max(200, width);
  // Two points per pixel column is as much as the line can show.
  const { points: pts, last: lastValue } = buildSeries(rows, key, 2 * (W - L - R));
  const showLast = (): void => {
    if (lastValue) last.textContent = `step ${lastValue.step}: ${fmt(lastValue.value)}`;
  };
  showLast();
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
  s.setAttribute('aria-label', key);
  if (pts.length === 0) {
    const t = svg('text', { x: L, y: H / 2 });
    t.textContent = 'no finite values yet';
    s.appendChild(t);
    card.appendChild(s);
    return card;
  }
  let x0 = pts[0]![0], x1 = pts[pts.length - 1]![0], y0 = Infinity, y1 = -Infinity;
  for (const p of pts) {
    if (p[1] < y0) y0 = p[1];
    if (p[1] > y1) y1 = p[1];
  }
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { const pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
  const X = (x: number): number => L + (x - x0) / (x1 - x0) * (W - L - R);
  const Y = (y: number): number => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  for (let g = 0; g <= 3; g++) {
    const yv = y0 + (y1 - y0) * g / 3, yy = Y(yv);
    s.appendChild(svg('line', { x1: L, x2: W - R, y1: yy, y2: yy, stroke: '#eaeef2' }));
    const lab = svg('text', { x: L - 4, y: yy + 3, 'text-anchor': 'end' });
    lab.textContent = fmt(yv);
    s.appendChild(lab);
  }
  const xl = svg('text', { x: L, y: H - 4 });
  xl.textContent = String(pts[0]![0]);
  s.appendChild(xl);
  const xr = svg('text', { x: W - R, y: H - 4, 'text-anchor': 'end' });
  xr.textContent = `step ${pts[pts.length - 1]![0]}`;
  s.appendChild(xr);
  const d = pts.map((p, j) => `${j ? 'L' : 'M'}${X(p[0]).toFixed(1)} ${Y(p[1]).toFixed(1)}`).join(' ');
  s.appendChild(svg('path', { d, fill: 'none', stroke: '#1f6feb', 'stroke-width': 1.5 }));
  if (pts.length <= 60) for (const p of pts) s.appendChild(svg('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2, fill: '#1f6feb' }));
  const cursor = svg('line', { y1: T, y2: H - B, stroke: '#8c959f', 'stroke-dasharray': '3 3', visibility: 'hidden' });
  s.appendChild(cursor);
  s.addEventListener('mousemove', (ev) => {
    const box = s.getBoundingClientRect();
    const xs = x0 + ((ev.clientX - box.left) * W / box.width - L) / (W - L - R) * (x1 - x0);
    let best = pts[0]!;
    for (const p of pts) if (Math.abs(p[0] - xs) < Math.abs(best[0] - xs)) best = p;
    cursor.setAttribute('x1', String(X(best[0])));
    cursor.setAttribute('x2', String(X(best[0])));
    cursor.setAttribute('visibility', 'visible');
    last.textContent = `step ${best[0]}: ${fmt(best[1])}`;
  });
  s.addEventListener('mouseleave', () => {
    cursor.setAttribute('visibility', 'hidden');
    showLast();
  });
  card.appendChild(s);
  return card;
}
