/**
 * Behaviour metrics by `data_source`: what a task can read from its responses beyond the reward
 * (for Countdown: tries, arithmetic, checks; countdown-behavior.ts). Tasks without them return
 * null and log nothing. The trainer logs the result as `behavior/{name}` for training batches and
 * `val/behavior/{name}/{data_source}` for validation (docs/verl-compat.md#behaviour-metrics).
 */
import type { CountdownGroundTruth } from './countdown.js';
import { countdownBehaviorTerms, type MetricTerm } from './countdown-behavior.js';

export type { MetricTerm };

export interface BehaviorSample {
  /** The prompt and the response as decoded text (special tokens kept, as the reward reads them). */
  prompt: string;
  response: string;
  /** The response's length in tokens. */
  responseLength: number;
  groundTruth: unknown;
}

/** One response's terms: metric name → [sum, count]; the metric is Σ sum / Σ count over the responses. */
export type BehaviorTermsFn = (sample: BehaviorSample) => Record<string, MetricTerm>;

function countdownProblem(groundTruth: unknown): CountdownGroundTruth {
  const isInt = (v: unknown): v is number | bigint => typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
  const gt = groundTruth as Partial<CountdownGroundTruth> | null;
  if (isInt(gt?.target) && Array.isArray(gt.numbers) && gt.numbers.every(isInt)) return { target: gt.target, numbers: gt.numbers };
  throw new Error(`countdown: ground_truth must be {target, numbers} with integers, got ${JSON.stringify(groundTruth, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
}

/** The data source's behaviour terms, routed as its reward is (reward.ts); null when it has none. */
export function selectBehaviorTermsFn(dataSource: string): BehaviorTermsFn | null {
  if (dataSource.includes('countdown')) {
    return (s) => countdownBehaviorTerms(s.prompt, s.response, countdownProblem(s.groundTruth), s.responseLength);
  }
  return null;
}

/**
 * The behaviour metrics of a set of responses, grouped by the key `keyOf(name, dataSource)`
 * names (so training batches pool their sources and validation keeps them apart). A metric whose
 * count is 0 (no steps, no verdicts) is left out rather than logged as NaN.
 */
export function behaviorMetrics(samples: readonly (BehaviorSample & { dataSource: string })[], keyOf: (name: string, dataSource: string) => string): Record<string, number> {
  const totals = new Map<string, [number, number]>();
  const fns = new Map<string, BehaviorTermsFn | null>();
  for (const sample of samples) {
    if (!fns.has(sample.dataSource)) fns.set(sample.dataSource, selectBehaviorTermsFn(sample.dataSource));
    const fn = fns.get(sample.dataSource);
    if (!fn) continue;
    for (const [name, [sum, count]] of Object.entries(fn(sample))) {
      const key = keyOf(name, sample.dataSource);
      const t = totals.get(key) ?? [0, 0];
      t[0] += sum;
      t[1] += count;
      totals.set(key, t);
    }
  }
  const out: Record<string, number> = {};
  for (const [key, [sum, count]] of totals) if (count > 0) out[key] = sum / count;
  return out;
}
