/**
 * The dashboard page's script (served as /client/browser/main.js, an ES module): follows the run
 * over /events, fetches the metrics history in increments from /metrics?from=, and renders the
 * charts, the metric picker, the latest samples and validation scores.
 */
import { MetricsCursor, MetricsTable, fmt, num, parseIncrement, statusLabel, type Connection, type RunStatus } from '../model.js';
import { chart, el } from './chart.js';

interface Sample { prompt?: unknown; response?: unknown; score?: unknown; dataSource?: unknown; groundTruth?: unknown }
interface SamplesEvent { step?: number; split?: string; samples?: Sample[] }
interface ValidationEvent { step?: number; metrics?: Record<string, unknown> }
interface RunStartEvent { project?: string; experiment?: string; totalSteps?: number }

const table = new MetricsTable();
const cursor = new MetricsCursor();
let run: RunStartEvent | null = null;
let samples: SamplesEvent | null = null;
let validation: ValidationEvent | null = null;
let runStatus: RunStatus = { phase: 'unknown' };
let connection: Connection = 'connecting';
let pending = false;
let loading = false;
let loadAgain = false;

function byId(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`dashboard page: no #${id}`);
  return e;
}

function renderKeys(): void {
  const box = byId('keys');
  byId('nkeys').textContent = String(table.keys.length);
  if (box.childElementCount === table.keys.length) {
    for (const i of Array.from(box.querySelectorAll('input'))) i.checked = table.chosen.has(i.value);
    return;
  }
  box.textContent = '';
  for (const k of table.keys.slice().sort()) {
    const lab = el('label'), input = el('input');
    input.type = 'checkbox';
    input.value = k;
    input.checked = table.chosen.has(k);
    input.addEventListener('change', () => { table.choose(k, input.checked); schedule(); });
    lab.appendChild(input);
    lab.appendChild(document.createTextNode(` ${k}`));
    box.appendChild(lab);
  }
}

function renderSummary(): void {
  const parts: string[] = [];
  if (run && (run.project || run.experiment)) parts.push([run.project, run.experiment].filter(Boolean).join(' / '));
  const lastRow = table.rows.length ? table.rows[table.rows.length - 1]! : null;
  if (lastRow) parts.push(`step ${lastRow.step}${run?.totalSteps ? ` of ${run.totalSteps}` : ''}`);
  if (lastRow && typeof lastRow.time === 'string') parts.push(`last log ${new Date(lastRow.time).toLocaleString()}`);
  if (runStatus.phase === 'finished' || runStatus.phase === 'stopped') parts.push(`run ${runStatus.status ?? runStatus.phase}${runStatus.message ? `: ${runStatus.message}` : ''}`);
  byId('summary').textContent = parts.join(' \u00b7 ');
  const badge = statusLabel(runStatus, connection);
  const s = byId('status');
  s.textContent = badge.text;
  s.className = badge.cls;
}

function renderSamples(): void {
  const box = byId('sample-list');
  box.textContent = '';
  if (!samples?.samples?.length) { box.appendChild(el('div', 'empty', 'no samples logged yet')); return; }
  byId('samples-title').textContent = `Latest samples (step ${samples.step}${samples.split ? `, ${samples.split}` : ''})`;
  for (const x of samples.samples.slice(0, 12)) {
    const c = el('div', 'sample'), meta = el('div', 'meta');
    if (typeof x.score === 'number' || typeof x.score === 'string') {
      const sc = num(x.score);
      meta.appendChild(el('span', `score ${sc > 0 ? 'pos' : 'zero'}`, `score ${fmt(sc)}`));
    }
    if (x.dataSource) meta.appendChild(document.createTextNode(`  ${String(x.dataSource)}`));
    if (x.groundTruth !== undefined) meta.appendChild(document.createTextNode(`  ground truth: ${typeof x.groundTruth === 'string' ? x.groundTruth : JSON.stringify(x.groundTruth)}`));
    c.appendChild(meta);
    c.appendChild(el('pre', 'prompt', String(x.prompt)));
    c.appendChild(el('pre', 'response', String(x.response)));
    box.appendChild(c);
  }
}

function renderValidation(): void {
  const box = byId('validation');
  box.textContent = '';
  if (!validation?.metrics) return;
  box.appendChild(el('h2', '', `Validation (step ${validation.step})`));
  const t = el('table');
  for (const [k, v] of Object.entries(validation.metrics)) {
    const tr = el('tr');
    tr.appendChild(el('td', '', k));
    tr.appendChild(el('td', '', fmt(num(v))));
    t.appendChild(tr);
  }
  box.appendChild(t);
}

function render(): void {
  pending = false;
  const box = byId('charts');
  const width = Math.floor((box.clientWidth - 40) / Math.max(1, Math.floor((box.clientWidth - 40) / 352))) - 22;
  box.textContent = '';
  const groups = table.chartGroups();
  if (!groups.length) box.appendChild(el('div', 'empty', 'waiting for the first step\u2026'));
  for (const group of groups) {
    // A titled group starts on its own row of the grid; the untitled rest follows under a rule.
    box.appendChild(el('div', 'group', group.title ?? (groups.length > 1 ? 'Metrics' : '')));
    for (const k of group.keys) box.appendChild(chart(table.rows, k, width));
  }
  renderKeys(); renderSummary(); renderSamples(); renderValidation();
}

function schedule(): void {
  if (!pending) { pending = true; requestAnimationFrame(render); }
}

/** Fetches increments until the page has every line the server has; one fetch loop at a time. */
async function load(): Promise<void> {
  if (loading) { loadAgain = true; return; }
  loading = true;
  try {
    do {
      loadAgain = false;
      for (;;) {
        const res = await fetch(`/metrics?${cursor.query()}`);
        if (res.status === 400) {
          // A cursor the server no longer knows (the file shrank between two answers): start over.
          console.error(`/metrics: ${await res.text()}`);
          cursor.restart();
          table.clearRows();
          loadAgain = true;
          break;
        }
        if (!res.ok) throw new Error(`/metrics: ${res.status} ${await res.text()}`);
        const more = cursor.apply(parseIncrement(await res.json()), table);
        schedule();
        if (!more) break;
      }
    } while (loadAgain);
  } catch (e) {
    // The server is away: keep what the page has; the stream's reconnection loads again.
    console.error(e);
  } finally {
    loading = false;
  }
}

function on<T>(es: EventSource, name: string, take: (data: T) => void): void {
  es.addEventListener(name, (e) => { take(JSON.parse((e as MessageEvent<string>).data) as T); schedule(); });
}

const es = new EventSource('/events');
// Load the history once the stream is open so no step falls between the two; rows merge by step.
es.onopen = () => { connection = 'open'; schedule(); void load(); };
es.onerror = () => { connection = 'down'; schedule(); };
on<unknown>(es, 'metrics', (row) => { table.add(row); });
on<unknown>(es, 'more', () => { void load(); });
on<RunStartEvent>(es, 'run_start', (d) => { run = d; });
on<SamplesEvent>(es, 'samples', (d) => { samples = d; });
on<ValidationEvent>(es, 'validation', (d) => { validation = d; });
on<RunStatus>(es, 'status', (d) => { runStatus = d; });
on<unknown>(es, 'reset', () => { table.clearRows(); cursor.restart(); void load(); });
window.addEventListener('resize', schedule);
schedule();
