/** YAML in and out: reading a (partial) config file, printing the resolved config, saving it atomically. */
import { readFileSync } from 'node:fs';
import { parseDocument, stringify } from 'yaml';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { TinyZeroConfig, YamlValue } from './types.js';

/** Parses YAML text (YAML 1.2 core schema: `True`, `1e-6`, `null`, `~` as veRL writes them). */
export function parseYaml(text: string, where: string): YamlValue {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new SyntaxError(`${where}: ${doc.errors[0]!.message}`);
  return toYamlValue(doc.toJS({ maxAliasCount: 100 }), where);
}

export function readYamlFile(path: string): YamlValue {
  return parseYaml(readFileSync(path, 'utf8'), path);
}

function toYamlValue(x: unknown, where: string): YamlValue {
  if (x === null || x === undefined) return null;
  if (typeof x === 'boolean' || typeof x === 'number' || typeof x === 'string') return x;
  if (Array.isArray(x)) return x.map((v) => toYamlValue(v, where));
  if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    const out: Record<string, YamlValue> = {};
    for (const [k, v] of Object.entries(x)) out[k] = toYamlValue(v, where);
    return out;
  }
  throw new TypeError(`${where}: unsupported YAML value ${String(x)} (keys must be strings; no dates or binary)`);
}

/** The config as YAML; `header` lines become comments on top (e.g. the command that made it). */
export function toYaml(config: TinyZeroConfig, header: readonly string[] = []): string {
  const body = stringify(config, { lineWidth: 0 });
  return header.map((l) => `# ${l}\n`).join('') + body;
}

/** Writes the resolved config beside a run: temp file in the same folder, then rename. */
export function saveConfig(config: TinyZeroConfig, path: string, header: readonly string[] = []): void {
  writeFileAtomic(path, toYaml(config, header));
}
