/** Startup warnings for a valid config: ignored keys set away from their default, and doubtful combinations. */
import { crossFieldWarnings } from './checks.js';
import { configDiff } from './diff.js';
import { ignoredKey } from './ignored.js';
import { deepEqual, getPath, lookup } from './tree.js';
import type { TinyZeroConfig, YamlValue } from './types.js';

const LINK = /^\$\{([^${}]+)\}$/;

/**
 * Ignored keys the user changed. Not reported: a null (switching a feature off, which is what we do
 * anyway) and a key that still follows its default `${...}` link (the user set the linked key).
 */
export function ignoredKeyWarnings(config: TinyZeroConfig): string[] {
  const tree = config as unknown as YamlValue;
  const out: string[] = [];
  for (const change of configDiff(config)) {
    const entry = ignoredKey(change.key);
    if (entry === undefined || change.value === null) continue;
    const found = lookup(change.key.split('.'));
    const link = found.kind === 'leaf' && typeof found.leaf.defaultValue === 'string' ? LINK.exec(found.leaf.defaultValue) : null;
    if (link !== null && deepEqual(change.value, getPath(tree, link[1]!.split('.')))) continue;
    out.push(`${change.key}=${JSON.stringify(change.value)} is ignored: ${entry.reason}`);
  }
  return out;
}

export function configWarnings(config: TinyZeroConfig): string[] {
  return [...ignoredKeyWarnings(config), ...crossFieldWarnings(config)];
}
