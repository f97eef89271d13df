/**
 * Config problems are collected, not thrown one at a time, so a user fixing a script sees every
 * bad key of a run at once; `ConfigError` carries them all.
 */
import type { YamlValue } from './types.js';

export interface ConfigProblem {
  /** full dotted path, e.g. `actor_rollout_ref.actor.optim.lr` */
  key: string;
  /** the offending value, when there is one */
  value?: YamlValue;
  /** what is wrong: "expected an integer ≥ 1", "unknown key; did you mean '...'?" */
  message: string;
  /** where it came from: `override 'x=y'`, `file a.yaml` */
  source?: string;
}

/** The value as the user wrote it; JSON would print infinity and NaN as null. */
export function formatValue(value: YamlValue | undefined): string {
  if (value === undefined) return '(unset)';
  const marked = JSON.stringify(value, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `\u0000${String(v)}` : v));
  return marked.replace(/"\\u0000(-?Infinity|NaN)"/g, (_, v: string) => (v === 'NaN' ? 'nan' : v === 'Infinity' ? 'inf' : '-inf'));
}

export function formatProblem(p: ConfigProblem): string {
  const value = p.value === undefined ? '' : ` = ${formatValue(p.value)}`;
  const source = p.source === undefined ? '' : ` (${p.source})`;
  return `${p.key}${value}: ${p.message}${source}`;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${formatProblem(p)}`);
    super(`invalid config (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
