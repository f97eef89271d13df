/**
 * Layers a YAML file and then the overrides over the raw defaults tree, checking every key against
 * the schema as it goes (unknown keys name the closest valid one). Values are typed later, after
 * `${...}` links resolve, so a key may be set to a link here.
 */
import type { ConfigProblem } from './errors.js';
import { isMap } from './fields.js';
import type { Override } from './overrides.js';
import { closestKey } from './suggest.js';
import { deepEqual, deepMerge, deletePath, getPath, lookup, schemaPaths, setPath, clone } from './tree.js';
import type { YamlMap, YamlValue } from './types.js';

/** The tree being built, the problems so far, and which layer last set each leaf (for errors). */
export interface MergeContext {
  tree: YamlMap;
  problems: ConfigProblem[];
  sources: Map<string, string>;
}

export function unknownKey(path: readonly string[], value: YamlValue | undefined, source: string, extra = ''): ConfigProblem {
  const key = path.join('.');
  const near = closestKey(key, schemaPaths());
  const hint = near === undefined ? '' : `; did you mean '${near}'?`;
  return { key, ...(value === undefined ? {} : { value }), message: `unknown key${hint}${extra}`, source };
}

/** Merges `value` at `path` (OmegaConf semantics: mappings merge, the rest replaces). */
export function mergeAt(ctx: MergeContext, path: string[], value: YamlValue, source: string): void {
  const { tree, problems } = ctx;
  const found = lookup(path);
  switch (found.kind) {
    case 'section':
      if (value === null) return; // an empty `critic:` block in a file
      if (!isMap(value)) {
        problems.push({ key: path.join('.'), value, message: 'is a section; expected a mapping of its keys', source });
        return;
      }
      for (const [k, v] of Object.entries(value)) mergeAt(ctx, [...path, k], v, source);
      return;
    case 'leaf':
      setPath(tree, path, found.leaf.open ? deepMerge(getPath(tree, path), value) : clone(value));
      ctx.sources.set(path.join('.'), source);
      return;
    case 'entry':
      setPath(tree, path, deepMerge(getPath(tree, path), value));
      ctx.sources.set(path.slice(0, found.mapDepth).join('.'), source);
      return;
    case 'unknown':
      problems.push(unknownKey(path, value, source));
  }
}

export function mergeFile(ctx: MergeContext, file: YamlValue, source: string): void {
  if (file === null) return; // empty file
  if (!isMap(file)) {
    ctx.problems.push({ key: '(root)', value: file, message: 'a config file must be a YAML mapping', source });
    return;
  }
  mergeAt(ctx, [], file, source);
}

export function applyOverride(ctx: MergeContext, ov: Override): void {
  const { tree, problems } = ctx;
  const source = `override '${ov.arg}'`;
  const found = lookup(ov.path);
  if (ov.op === 'delete') return deleteOverride(tree, ov, source, problems);
  const value = ov.value!;
  switch (found.kind) {
    case 'unknown':
      problems.push(unknownKey(ov.path, value, source, ov.op === 'set' ? '' : ' (new keys go only in open maps such as override_config)'));
      return;
    case 'section':
      if (!isMap(value)) {
        problems.push({ key: ov.key, value, message: 'is a section; set one of its keys, or give a mapping {key: value}', source });
        return;
      }
      for (const [k, v] of Object.entries(value)) mergeAt(ctx, [...ov.path, k], v, source);
      return;
    case 'leaf': {
      if (ov.op === 'add' && !found.leaf.added) {
        // Hydra: '+' appends, and this key is already in veRL's config
        problems.push({
          key: ov.key,
          value,
          message: `could not append: an item is already at '${ov.key}'; use ${ov.key}=... to set it (or ++${ov.key}=...)`,
          source,
        });
        return;
      }
      const asText = ov.text !== undefined && (typeof value === 'number' || typeof value === 'boolean');
      const typed = !found.leaf.type.accepts(value) && asText && found.leaf.type.accepts(ov.text!) ? ov.text! : value;
      setPath(tree, ov.path, clone(typed));
      ctx.sources.set(ov.key, source);
      return;
    }
    case 'entry':
      if (ov.op === 'set' && getPath(tree, ov.path) === undefined) {
        problems.push({ key: ov.key, value, message: `no such entry; add it with +${ov.key}=...`, source });
        return;
      }
      setPath(tree, ov.path, clone(value));
      ctx.sources.set(ov.path.slice(0, found.mapDepth).join('.'), source);
  }
}

function deleteOverride(tree: YamlMap, ov: Override, source: string, problems: ConfigProblem[]): void {
  const found = lookup(ov.path);
  if (found.kind === 'unknown') {
    problems.push(unknownKey(ov.path, undefined, source));
    return;
  }
  if (found.kind !== 'entry') {
    problems.push({ key: ov.key, message: 'schema keys cannot be deleted; set a value instead', source });
    return;
  }
  const current = getPath(tree, ov.path);
  if (current === undefined) {
    problems.push({ key: ov.key, message: 'could not delete: no such entry', source });
    return;
  }
  // Hydra's ~key=value deletes only when the current value matches
  if (ov.value !== undefined && !deepEqual(current, ov.value)) {
    problems.push({ key: ov.key, value: current, message: `could not delete: the value is not ${JSON.stringify(ov.value)}`, source });
    return;
  }
  deletePath(tree, ov.path);
}
