/**
 * What a run changed from the defaults, for a compact printout. Each entry formats as a Hydra
 * override, so the printed lines can be pasted back on a command line and mean the same.
 */
import { primitive } from './overrides.js';
import { defaultConfig } from './resolve.js';
import { deepEqual, getPath, schemaLeaves } from './tree.js';
import type { TinyZeroConfig, YamlValue } from './types.js';

export interface ConfigChange {
  key: string;
  value: YamlValue;
  default: YamlValue;
}

/** Leaves of `config` that differ from `base` (default: TinyZero's defaults), in schema order. */
export function configDiff(config: TinyZeroConfig, base: TinyZeroConfig = defaultConfig()): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const { path } of schemaLeaves()) {
    const keys = path.split('.');
    const value = getPath(config as unknown as YamlValue, keys) ?? null;
    const def = getPath(base as unknown as YamlValue, keys) ?? null;
    if (!deepEqual(value, def)) out.push({ key: path, value, default: def });
  }
  return out;
}

/** `key=value` lines in override syntax. */
export function formatConfigDiff(changes: readonly ConfigChange[]): string[] {
  return changes.map((c) => `${c.key}=${formatOverrideValue(c.value)}`);
}

/** A value in Hydra override syntax; strings are quoted only when they would read as something else. */
export function formatOverrideValue(v: YamlValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    const plain = v !== '' && v.trim() === v && primitive(v) === v && !/[,[\]{}'":\\]|\$\{/.test(v);
    return plain ? v : `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  }
  if (Array.isArray(v)) return `[${v.map(formatOverrideValue).join(',')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${k}:${formatOverrideValue(x)}`).join(',')}}`;
}
