/**
 * What changed between the config a run folder was started (or last resumed) with and the config
 * of a run resuming in it, and which of those changes an exact resume survives.
 */
import { formatOverrideValue, type TinyZeroConfig, type YamlValue } from '../config/index.js';

export interface KeyChange {
  key: string;
  from: YamlValue;
  to: YamlValue;
}

const isMap = (v: unknown): v is Record<string, YamlValue> => typeof v === 'object' && v !== null && !Array.isArray(v);

function leaves(tree: YamlValue, prefix: string, out: Map<string, YamlValue>): Map<string, YamlValue> {
  if (isMap(tree) && Object.keys(tree).length > 0) {
    for (const [k, v] of Object.entries(tree)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, tree);
  }
  return out;
}

/**
 * Leaves of `now` whose value differs from `earlier`, in `now`'s key order. Keys the earlier file
 * does not have (added to tinyzero since) are not compared.
 */
export function changedKeys(earlier: YamlValue, now: TinyZeroConfig): KeyChange[] {
  const before = leaves(earlier, '', new Map());
  const out: KeyChange[] = [];
  for (const [key, to] of leaves(now as unknown as YamlValue, '', new Map())) {
    if (!before.has(key)) continue;
    const from = before.get(key)!;
    if (JSON.stringify(from) !== JSON.stringify(to)) out.push({ key, from, to });
  }
  return out;
}

/** `pattern` is a dotted key, or a section ending in `.*` that matches every key below it. */
export function keyMatches(key: string, pattern: string): boolean {
  return pattern.endsWith('.*') ? key.startsWith(pattern.slice(0, -1)) : key === pattern;
}

/** `key: from -> to` */
export function formatChange(c: KeyChange): string {
  return `${c.key}: ${formatOverrideValue(c.from)} -> ${formatOverrideValue(c.to)}`;
}

/**
 * Whether a resumed run applies a change of `key` and still continues its run: the first rule that
 * matches decides, `!pattern` meaning it does not (data, batch sizes, model, seed, ... an exact
 * resume depends on); a key no rule names does not either, so a key added later is safe by default.
 */
export function resumeApplies(key: string, rules: readonly string[]): boolean {
  for (const rule of rules) {
    const breaks = rule.startsWith('!');
    if (keyMatches(key, breaks ? rule.slice(1) : rule)) return !breaks;
  }
  return false;
}
