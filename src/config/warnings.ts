/** Startup warnings for a valid config: ignored keys set away from their default, and doubtful combinations. */
import { crossFieldWarnings } from './checks.js';
import { configDiff } from './diff.js';
import { ignoredKey } from './ignored.js';
import { deepEqual, getPath, lookup } from './tree.js';
import type { TinyZeroConfig, YamlValue } from './types.js';

const WHOLE_LINK = /^\$\{([^${}]+)\}$/;
const ANY_LINK = /\$\{([^${}]+)\}/g;

/**
 * A default with `${...}` links, evaluated against the run's config: what the key holds when the
 * user did not set it. `~/experiments/gsm8k/ppo/${trainer.experiment_name}` moves with the
 * experiment name, and that alone must not read as "the user set it".
 */
function linkedDefault(template: string, tree: YamlValue): YamlValue | undefined {
  const whole = WHOLE_LINK.exec(template.trim());
  if (whole) return getPath(tree, whole[1]!.trim().split('.'));
  return template.replace(ANY_LINK, (_, target: string) => String(getPath(tree, target.trim().split('.'))));
}

/**
 * Ignored keys the user changed. Not reported: a null (switching a feature off, which is what we do
 * anyway) and a key that still follows its default `${...}` links (the user set a linked key).
 */
export function ignoredKeyWarnings(config: TinyZeroConfig): string[] {
  const tree = config as unknown as YamlValue;
  const out: string[] = [];
  for (const change of configDiff(config)) {
    const entry = ignoredKey(change.key);
    if (entry === undefined || change.value === null) continue;
    const found = lookup(change.key.split('.'));
    const def = found.kind === 'leaf' ? found.leaf.defaultValue : undefined;
    if (typeof def === 'string' && def.includes('${') && deepEqual(change.value, linkedDefault(def, tree))) continue;
    out.push(`${change.key}=${JSON.stringify(change.value)} is ignored: ${entry.reason}`);
  }
  return out;
}

export function configWarnings(config: TinyZeroConfig): string[] {
  return [...ignoredKeyWarnings(config), ...crossFieldWarnings(config)];
}
