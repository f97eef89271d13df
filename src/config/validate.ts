/**
 * Raw tree -> typed config: every leaf is checked against its value type once links are resolved.
 * This is the single place a raw value becomes a typed one.
 */
import type { ConfigProblem } from './errors.js';
import { getPath, schemaLeaves, setPath } from './tree.js';
import type { TinyZeroConfig, YamlMap } from './types.js';

export function typeCheck(tree: YamlMap, problems: ConfigProblem[], sources: ReadonlyMap<string, string>): TinyZeroConfig {
  const out: YamlMap = {};
  for (const { path, leaf } of schemaLeaves()) {
    const keys = path.split('.');
    const raw = getPath(tree, keys) ?? null;
    if (!leaf.type.accepts(raw)) {
      const source = sources.get(path);
      // YAML's .inf/.nan and an override's inf/nan parse as numbers; say why such a number fails.
      const nonFinite = typeof raw === 'number' && !Number.isFinite(raw) ? ' (a finite value: infinity and NaN are not accepted here)' : '';
      problems.push({ key: path, value: raw, message: `expected ${leaf.type.expected}${nonFinite}`, ...(source === undefined ? {} : { source }) });
    }
    setPath(out, keys, raw);
  }
  // Every leaf passed its ValueType, and Section<TinyZeroConfig> ties each ValueType to its field.
  return out as unknown as TinyZeroConfig;
}
