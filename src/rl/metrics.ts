/** Per-step data metrics (`compute_data_metrics`, docs/verl-compat.md#metrics), under veRL's exact names. */
import { assertLength, rowsOf, type FloatArray } from './types.js';

interface Stat {
  mean: number;
  max: number;
  min: number;
}

/** mean/max/min of the selected values; NaN for an empty selection (torch's mean is NaN there too). */
function stat(values: ArrayLike<number>, keep?: ArrayLike<number>): Stat {
  let s = 0;
  let n = 0;
  let max = -Infinity;
  let min = Infinity;
  for (let k = 0; k < values.length; k++) {
    if (keep !== undefined && keep[k] === 0) continue;
    const v = values[k]!;
    s += v;
    n++;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  return n === 0 ? { mean: NaN, max: NaN, min: NaN } : { mean: s / n, max, min };
}

/** Unbiased variance (`torch.var`) of the selected values. */
function varUnbiased(values: ArrayLike<number>, keep: ArrayLike<number>): number {
  const { mean } = stat(values, keep);
  let ss = 0;
  let n = 0;
  for (let k = 0; k < values.length; k++) {
    if (keep[k] === 0) continue;
    ss += (values[k]! - mean) ** 2;
    n++;
  }
  return ss / (n - 1);
}

function rowSums(x: ArrayLike<number>, width: number): Float64Array {
  const rows = rowsOf('array', x, width);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) for (let t = i * width; t < (i + 1) * width; t++) out[i] += x[t]!;
  return out;
}

function put(metrics: Record<string, number>, prefix: string, s: Stat): void {
  metrics[`${prefix}/mean`] = s.mean;
  metrics[`${prefix}/max`] = s.max;
  metrics[`${prefix}/min`] = s.min;
}

/**
 * tokenLevelScores, tokenLevelRewards, advantages, returns, responseMask, values?:
 * `[batch, responseLength]`; promptMask: `[batch, maxPromptLength]` (the prompt part of the
 * attention mask) -> flat metrics:
 * `critic/score/*` and `critic/rewards/*` over per-sequence sums; `critic/advantages/*`,
 * `critic/returns/*` (and with values `critic/values/*`,
 * `critic/vf_explained_var = 1 − Var(R − V)/(Var(R) + 1e-5)`, unbiased variances) over valid
 * response tokens; `response_length/*` and `prompt_length/*` with `clip_ratio` = fraction of
 * sequences at the maximum length. The maximum is the array width, as in veRL.
 */
export function computeDataMetrics(args: {
  tokenLevelScores: FloatArray;
  tokenLevelRewards: FloatArray;
  advantages: FloatArray;
  returns: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  promptMask: FloatArray;
  values?: FloatArray;
}): Record<string, number> {
  const { responseMask: m, responseLength: T } = args;
  const rows = rowsOf('responseMask', m, T);
  assertLength(m.length, {
    tokenLevelScores: args.tokenLevelScores,
    tokenLevelRewards: args.tokenLevelRewards,
    advantages: args.advantages,
    returns: args.returns,
    ...(args.values ? { values: args.values } : {}),
  });
  if (rows === 0 || args.promptMask.length % rows !== 0) {
    throw new RangeError(`promptMask has ${args.promptMask.length} elements for ${rows} rows`);
  }
  const maxPromptLength = args.promptMask.length / rows;

  const metrics: Record<string, number> = {};
  put(metrics, 'critic/score', stat(rowSums(args.tokenLevelScores, T)));
  put(metrics, 'critic/rewards', stat(rowSums(args.tokenLevelRewards, T)));
  put(metrics, 'critic/advantages', stat(args.advantages, m));
  put(metrics, 'critic/returns', stat(args.returns, m));
  if (args.values) {
    put(metrics, 'critic/values', stat(args.values, m));
    const diff = new Float64Array(m.length);
    for (let k = 0; k < m.length; k++) diff[k] = args.returns[k]! - args.values[k]!;
    metrics['critic/vf_explained_var'] = 1 - varUnbiased(diff, m) / (varUnbiased(args.returns, m) + 1e-5);
  }
  const responseLength = rowSums(m, T);
  const promptLength = rowSums(args.promptMask, maxPromptLength);
  put(metrics, 'response_length', stat(responseLength));
  metrics['response_length/clip_ratio'] = responseLength.filter((l) => l === T).length / rows;
  put(metrics, 'prompt_length', stat(promptLength));
  metrics['prompt_length/clip_ratio'] = promptLength.filter((l) => l === maxPromptLength).length / rows;
  return metrics;
}
