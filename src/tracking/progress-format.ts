/**
 * Pure pieces of the progress display: durations, rates, ETA and the status text. Kept apart from
 * the terminal handling so they are tested without a clock or a TTY.
 */

/** `42s`, `3m05s`, `2h03m`, `1d04h`; `--` for a value that is unknown (NaN, negative, infinite). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** A rate with three significant digits and a k/M suffix: `87.4`, `1.23k`, `45.6M`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond < 0) return '--';
  const units: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [scale, suffix] of units) {
    if (perSecond >= scale * 0.9995) return `${(perSecond / scale).toPrecision(3)}${suffix}`;
  }
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toPrecision(3);
}

/**
 * Seconds left: the remaining steps at the mean duration of the steps this process has finished,
 * minus the time already spent in the current step. NaN until one step has finished (the first
 * step carries warm-up costs, but any guess is better shown late than wrong).
 */
export function estimateEtaSeconds(args: {
  doneSteps: number;
  totalSteps: number;
  finishedInSession: number;
  sessionStepSeconds: number;
  currentStepElapsed: number;
}): number {
  const { doneSteps, totalSteps, finishedInSession, sessionStepSeconds, currentStepElapsed } = args;
  if (doneSteps >= totalSteps) return 0;
  if (finishedInSession <= 0) return NaN;
  const mean = sessionStepSeconds / finishedInSession;
  return Math.max(0, (totalSteps - doneSteps) * mean - currentStepElapsed);
}

/** Tokens per second over a sliding window of (time, cumulative tokens) samples. */
export class RateWindow {
  private readonly samples: { t: number; total: number }[] = [];
  private total = 0;

  constructor(private readonly windowSeconds = 30) {}

  add(tokens: number, nowSeconds: number): void {
    this.total += tokens;
    this.samples.push({ t: nowSeconds, total: this.total });
    // Keep one sample older than the window so the rate spans the whole window.
    while (this.samples.length > 2 && this.samples[1]!.t <= nowSeconds - this.windowSeconds) this.samples.shift();
  }

  /** NaN until two samples exist at different times. */
  rate(): number {
    if (this.samples.length < 2) return NaN;
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const dt = last.t - first.t;
    return dt > 0 ? (last.total - first.total) / dt : NaN;
  }
}

export interface ProgressState {
  /** The step being run (1-based, like veRL's global_steps). */
  step: number;
  totalSteps: number;
  phase: string;
  tokensPerSecond: number;
  elapsedSeconds: number;
  etaSeconds: number;
}

/** `step 12/200 (5%) | rollout | 1.23k tok/s | elapsed 4m10s | eta 1h05m`; the percentage counts finished steps. */
export function formatProgress(state: ProgressState): string {
  const pct = state.totalSteps > 0 ? Math.floor((100 * Math.max(0, state.step - 1)) / state.totalSteps) : 0;
  return [
    `step ${state.step}/${state.totalSteps} (${pct}%)`,
    state.phase || '-',
    `${formatRate(state.tokensPerSecond)} tok/s`,
    `elapsed ${formatDuration(state.elapsedSeconds)}`,
    `eta ${formatDuration(state.etaSeconds)}`,
  ].join(' | ');
}

/** Cuts a status line to the terminal width so it never wraps (a wrapped line cannot be redrawn in place). */
export function fitToWidth(text: string, columns: number | undefined): string {
  if (!columns || columns <= 1 || text.length < columns) return text;
  return text.slice(0, columns - 2) + '…';
}
