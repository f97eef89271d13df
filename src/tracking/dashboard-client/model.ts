/**
 * The dashboard page's logic that needs no DOM: the table of metrics rows merged by step, the
 * /metrics increment cursor, chart series and the status label. It is compiled twice: for Node
 * (tsconfig.json, so tests exercise it) and for the browser with the page's DOM code in browser/
 * (tsconfig.client.json). It must not use Node or DOM APIs; each build checks one side.
 */

/** Charted by default when present; every `val/*` metric is added to these. */
export const DEFAULT_CHARTS: readonly string[] = [
  'critic/score/mean', 'critic/rewards/mean', 'response_length/mean', 'actor/pg_loss',
  'actor/entropy_loss', 'actor/entropy', 'actor/ppo_kl', 'critic/vf_loss', 'timing_s/step',
];

/**
 * The behaviour metrics a task logs (`behavior/{name}` per step, `val/behavior/{name}/{source}`),
 * charted by default in their own group, in this order of names (others after, by name).
 */
export const BEHAVIOR_CHARTS: readonly string[] = ['tries_per_response', 'answer_after_passed_check', 'verdict_correct', 'arith_correct', 'response_length'];

/** A behaviour metric's name (`tries_per_response`), or null when `key` is not one. */
export function behaviorName(key: string): string | null {
  const m = /^(?:val\/)?behavior\/([^/]+)/.exec(key);
  return m ? m[1]! : null;
}

/** A titled set of charts: the behaviour group, then the rest (untitled). */
export interface ChartGroup {
  title: string | null;
  keys: string[];
}

/** One metrics.jsonl object: `step`, `time` and the metrics (non-finite ones as strings). */
export interface MetricsRow {
  step: number;
  [key: string]: unknown;
}

/** metrics.jsonl writes NaN and ±Infinity as strings (JSON has none); anything else is NaN. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return NaN;
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Math.round(v * 1000) / 1000);
}

function isRow(r: unknown): r is MetricsRow {
  return typeof r === 'object' && r !== null && typeof (r as { step?: unknown }).step === 'number';
}

/** Rows in step order, one per step (a step logged again replaces the first), and the keys seen. */
export class MetricsTable {
  rows: MetricsRow[] = [];
  keys: string[] = [];
  /** The keys to chart; the defaults until the user picks (`touched`). */
  readonly chosen = new Set<string>();
  touched = false;
  private byStep = new Map<number, number>();
  private readonly seen = new Set<string>();

  /** Adds a row; false (and nothing changes) when it is not a metrics row. */
  add(r: unknown): boolean {
    if (!isRow(r)) return false;
    const at = this.byStep.get(r.step);
    if (at !== undefined) this.rows[at] = r;
    else {
      this.rows.push(r);
      const n = this.rows.length;
      if (n > 1 && this.rows[n - 2]!.step > r.step) {
        this.rows.sort((a, b) => a.step - b.step);
        this.byStep = new Map(this.rows.map((x, i) => [x.step, i]));
      } else this.byStep.set(r.step, n - 1);
    }
    for (const k of Object.keys(r)) {
      if (k === 'step' || k === 'time' || this.seen.has(k)) continue;
      this.seen.add(k);
      this.keys.push(k);
      if (!this.touched && (DEFAULT_CHARTS.includes(k) || k.startsWith('val/') || behaviorName(k) !== null)) this.chosen.add(k);
    }
    return true;
  }

  /** Forgets the rows (the history was replaced); the keys and the choice stay. */
  clearRows(): void {
    this.rows = [];
    this.byStep = new Map();
  }

  choose(key: string, on: boolean): void {
    this.touched = true;
    if (on) this.chosen.add(key);
    else this.chosen.delete(key);
  }

  /** Chosen keys: the defaults in their order, then `val/*`, then the rest by name. */
  chosenKeys(): string[] {
    const rank = (k: string): number => {
      const i = DEFAULT_CHARTS.indexOf(k);
      return i >= 0 ? i : k.startsWith('val/') ? 100 : 200;
    };
    const list = this.keys.filter((k) => this.chosen.has(k));
    list.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    if (list.length === 0 && !this.touched) return this.keys.slice(0, 6);
    return list;
  }

  /**
   * The chosen keys in groups: the behaviour metrics first (each name's training chart, then its
   * validation charts), then the others as chosenKeys orders them; empty groups are left out.
   */
  chartGroups(): ChartGroup[] {
    const keys = this.chosenKeys();
    const rank = (k: string): number => {
      const i = BEHAVIOR_CHARTS.indexOf(behaviorName(k)!);
      return i >= 0 ? i : BEHAVIOR_CHARTS.length;
    };
    const behavior = keys.filter((k) => behaviorName(k) !== null)
      .sort((a, b) => rank(a) - rank(b) || behaviorName(a)!.localeCompare(behaviorName(b)!) || Number(a.startsWith('val/')) - Number(b.startsWith('val/')) || a.localeCompare(b));
    const groups: ChartGroup[] = [
      { title: 'Behaviour (what the responses do: tries, checks, arithmetic)', keys: behavior },
      { title: null, keys: keys.filter((k) => behaviorName(k) === null) },
    ];
    return groups.filter((g) => g.keys.length > 0);
  }
}

/** One answer of `/metrics?from=`. */
export interface MetricsIncrement {
  generation: number;
  from: number;
  next: number;
  more: boolean;
  reset: boolean;
  rows: unknown[];
}

export function parseIncrement(body: unknown): MetricsIncrement {
  const b = body as Partial<MetricsIncrement> | null;
  const ints = b && [b.generation, b.from, b.next].every((v) => Number.isSafeInteger(v));
  if (!b || !ints || typeof b.more !== 'boolean' || typeof b.reset !== 'boolean' || !Array.isArray(b.rows)) {
    throw new Error(`not a /metrics increment: ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return b as MetricsIncrement;
}

/** Where the page is in the server's metrics: the next byte offset, in one generation of the file. */
export class MetricsCursor {
  generation: number | null = null;
  offset = 0;

  query(): string {
    return this.generation === null ? `from=${this.offset}` : `from=${this.offset}&generation=${this.generation}`;
  }

  /**
   * Takes an answer into `table`; true when the page must keep asking. The answer's rows replace
   * the table's when the server started over (`reset`, or a generation the page has not seen).
   */
  apply(inc: MetricsIncrement, table: MetricsTable): boolean {
    if (inc.reset || (this.generation !== null && inc.generation !== this.generation)) table.clearRows();
    this.generation = inc.generation;
    this.offset = inc.next;
    for (const r of inc.rows) table.add(r);
    return inc.more;
  }

  /** The server said the history was replaced: start again from its beginning. */
  restart(): void {
    this.generation = null;
    this.offset = 0;
  }
}

export interface Series {
  /** [step, value] of the finite values, thinned to at most about maxPoints. */
  points: [number, number][];
  /** The key's value in the last row that has it (finite or not). */
  last: { step: number; value: number } | null;
}

/**
 * A chart's points. Past `maxPoints` the steps are cut into buckets that each keep their lowest
 * and highest value, in step order, so spikes (a NaN's neighbours, a loss blowing up) stay visible
 * while the SVG stays small for a history of tens of thousands of steps.
 */
export function buildSeries(rows: readonly MetricsRow[], key: string, maxPoints = Infinity): Series {
  const points: [number, number][] = [];
  let last: Series['last'] = null;
  for (const r of rows) {
    if (!(key in r)) continue;
    const v = num(r[key]);
    last = { step: r.step, value: v };
    if (Number.isFinite(v)) points.push([r.step, v]);
  }
  return { points: points.length > maxPoints ? thin(points, Math.max(2, maxPoints)) : points, last };
}

function thin(points: [number, number][], maxPoints: number): [number, number][] {
  const buckets = Math.floor(maxPoints / 2);
  const out: [number, number][] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * points.length) / buckets);
    const hi = Math.floor(((b + 1) * points.length) / buckets);
    let min = lo;
    let max = lo;
    for (let i = lo; i < hi; i++) {
      if (points[i]![1] < points[min]![1]) min = i;
      if (points[i]![1] > points[max]![1]) max = i;
    }
    if (hi > lo) {
      out.push(points[Math.min(min, max)]!);
      if (min !== max) out.push(points[Math.max(min, max)]!);
    }
  }
  return out;
}

/** The run's phase as the server's `status` event gives it (dashboard-run-state.ts). */
export interface RunStatus {
  phase: 'unknown' | 'running' | 'finished' | 'stopped';
  step?: number;
  status?: string;
  message?: string;
}

export type Connection = 'connecting' | 'open' | 'down';

/**
 * The badge beside the title: an ended run says so whether or not the page is connected (it is
 * never "live"); otherwise it shows the connection to the server.
 */
export function statusLabel(run: RunStatus, connection: Connection): { text: string; cls: string } {
  if (run.phase === 'finished') return { text: 'finished', cls: 'done' };
  if (run.phase === 'stopped') return { text: run.status && run.status !== 'unknown' ? `stopped (${run.status})` : 'stopped', cls: 'down' };
  if (connection === 'connecting') return { text: 'connecting\u2026', cls: '' };
  if (connection === 'down') return { text: 'reconnecting\u2026', cls: 'down' };
  return run.phase === 'running' ? { text: 'live', cls: 'live' } : { text: 'connected', cls: '' };
}
