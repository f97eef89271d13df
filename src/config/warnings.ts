/** Startup warnings for a valid config: ignored keys set away from their default, and doubtful combinations. */
import { crossFieldWarnings } from './checks.js';
import { configDiff } from './diff.js';
import { ignoredKey } from './ignored.js';
import type { TinyZeroConfig } from './types.js';

/** Ignored keys the user changed; a null (switching a feature off) is what we do anyway and is not reported. */
export function ignoredKeyWarnings(config: TinyZeroConfig): string[] {
  const out: string[] = [];
  for (const change of configDiff(config)) {
    const entry = ignoredKey(change.key);
    if (entry === undefined || change.value === null) continue;
    out.push(`${change.key}=${JSON.stringify(change.value)} is ignored: ${entry.reason}`);
  }
  return out;
}

export function configWarnings(config: TinyZeroConfig): string[] {
  return [...ignoredKeyWarnings(config), ...crossFieldWarnings(config)];
}
