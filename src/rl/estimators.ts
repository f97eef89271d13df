/**
 * Registry of advantage estimators keyed by `algorithm.adv_estimator` (veRL's
 * `@register_adv_est` names), so the trainer selects one from the config string.
 */
import {
  computeGaeAdvantageReturn,
  computeGrpoOutcomeAdvantage,
  computeReinforcePlusPlusBaselineOutcomeAdvantage,
  computeReinforcePlusPlusOutcomeAdvantage,
  computeRemaxOutcomeAdvantage,
  computeRlooOutcomeAdvantage,
  type AdvantageReturn,
} from './advantages.js';
import type { FloatArray, GroupIndex } from './types.js';

/** `algorithm.adv_estimator`: the one list (the config's schema reads it); the registry below must cover it. */
export const advEstimators = ['gae', 'grpo', 'rloo', 'reinforce_plus_plus', 'reinforce_plus_plus_baseline', 'remax'] as const;
export type AdvEstimator = (typeof advEstimators)[number];

/** Everything any estimator may need; each one checks for the fields it uses. All `[batch, responseLength]` unless noted. */
export interface AdvantageInput {
  tokenLevelRewards: FloatArray;
  responseMask: FloatArray;
  responseLength: number;
  /** critic values, gae only */
  values?: FloatArray;
  /** `[batch]` prompt uid; grpo, rloo, reinforce_plus_plus_baseline */
  index?: GroupIndex;
  /** `[batch]` greedy-rollout scores; remax only */
  rewardBaselines?: ArrayLike<number>;
  /** `algorithm.gamma` (default 1.0, TinyZero) */
  gamma?: number;
  /** `algorithm.lam` (default 1.0, TinyZero) */
  lam?: number;
  /** GRPO ε (default 1e-6) */
  epsilon?: number;
  /** `algorithm.norm_adv_by_std_in_grpo` (default true; false = Dr. GRPO) */
  normAdvByStdInGrpo?: boolean;
}

function need<T>(value: T | undefined, field: string, estimator: AdvEstimator): T {
  if (value === undefined) throw new TypeError(`adv_estimator '${estimator}' needs ${field}`);
  return value;
}

export const advantageEstimators: Readonly<Record<AdvEstimator, (input: AdvantageInput) => AdvantageReturn>> = {
  gae: (x) =>
    computeGaeAdvantageReturn({ ...x, values: need(x.values, 'values', 'gae'), gamma: x.gamma ?? 1, lam: x.lam ?? 1 }),
  grpo: (x) => computeGrpoOutcomeAdvantage({ ...x, index: need(x.index, 'index', 'grpo') }),
  rloo: (x) => computeRlooOutcomeAdvantage({ ...x, index: need(x.index, 'index', 'rloo') }),
  reinforce_plus_plus: (x) => computeReinforcePlusPlusOutcomeAdvantage({ ...x, gamma: x.gamma ?? 1 }),
  reinforce_plus_plus_baseline: (x) =>
    computeReinforcePlusPlusBaselineOutcomeAdvantage({ ...x, index: need(x.index, 'index', 'reinforce_plus_plus_baseline') }),
  remax: (x) =>
    computeRemaxOutcomeAdvantage({ ...x, rewardBaselines: need(x.rewardBaselines, 'rewardBaselines', 'remax') }),
};

/** Looks up `name` (an `algorithm.adv_estimator` string) and runs it; unknown names throw. */
export function computeAdvantage(name: string, input: AdvantageInput): AdvantageReturn {
  if (!Object.hasOwn(advantageEstimators, name)) {
    throw new RangeError(`unknown adv_estimator '${name}'; known: ${Object.keys(advantageEstimators).join(', ')}`);
  }
  return advantageEstimators[name as AdvEstimator](input);
}
