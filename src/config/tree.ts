/**
 * The untyped side: the raw config tree (plain YAML values, `${...}` links unresolved) and how a
 * dotted path lands in the schema. Everything before validation works on these.
 */
import { isMap, LeafSpec } from './fields.js';
import { schema } from './schema.js';
import type { YamlMap, YamlValue } from './types.js';

export interface SectionNode {
  readonly [key: string]: SchemaNode;
}
export type SchemaNode = LeafSpec<unknown> | SectionNode;

/** The schema viewed without its static types, for walking by key. */
export const schemaRoot: SectionNode = schema as unknown as SectionNode;

export type Lookup =
  | { kind: 'leaf'; leaf: LeafSpec<unknown> }
  | { kind: 'section'; node: SectionNode }
  /** a path below an open map: `mapDepth` segments name the map, the rest the entry */
  | { kind: 'entry'; leaf: LeafSpec<unknown>; mapDepth: number }
  | { kind: 'unknown' };

export function lookup(path: readonly string[]): Lookup {
  let node: SchemaNode = schemaRoot;
  for (let i = 0; i < path.length; i++) {
    if (node instanceof LeafSpec) return node.open ? { kind: 'entry', leaf: node, mapDepth: i } : { kind: 'unknown' };
    const next: SchemaNode | undefined = Object.hasOwn(node, path[i]!) ? node[path[i]!] : undefined;
    if (next === undefined) return { kind: 'unknown' };
    node = next;
  }
  return node instanceof LeafSpec ? { kind: 'leaf', leaf: node } : { kind: 'section', node };
}

/** Every dotted path the schema knows, sections included, for "did you mean". */
export function schemaPaths(node: SectionNode = schemaRoot, prefix = ''): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node)) {
    const path = prefix + key;
    out.push(path);
    if (!(child instanceof LeafSpec)) out.push(...schemaPaths(child, `${path}.`));
  }
  return out;
}

/** Leaves in schema order with their dotted paths. */
export function schemaLeaves(node: SectionNode = schemaRoot, prefix = ''): { path: string; leaf: LeafSpec<unknown> }[] {
  const out: { path: string; leaf: LeafSpec<unknown> }[] = [];
  for (const [key, child] of Object.entries(node)) {
    if (child instanceof LeafSpec) out.push({ path: prefix + key, leaf: child });
    else out.push(...schemaLeaves(child, `${prefix}${key}.`));
  }
  return out;
}

/** The defaults as a raw tree, links still as `${...}` strings. */
export function defaultsTree(node: SectionNode = schemaRoot): YamlMap {
  const out: YamlMap = {};
  for (const [key, child] of Object.entries(node)) {
    out[key] = child instanceof LeafSpec ? clone(child.defaultValue as YamlValue) : defaultsTree(child);
  }
  return out;
}

export function clone<V extends YamlValue>(v: V): V {
  return structuredClone(v);
}

export function getPath(tree: YamlValue, path: readonly string[]): YamlValue | undefined {
  let cur: YamlValue | undefined = tree;
  for (const key of path) {
    if (!isMap(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** Sets a value, creating intermediate mappings (inside open maps) as needed. */
export function setPath(tree: YamlMap, path: readonly string[], value: YamlValue): void {
  let cur = tree;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (isMap(next)) cur = next;
    else cur = cur[key] = {};
  }
  cur[path[path.length - 1]!] = value;
}

export function deletePath(tree: YamlMap, path: readonly string[]): boolean {
  const parent = getPath(tree, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (!isMap(parent) || !Object.hasOwn(parent, key)) return false;
  delete parent[key];
  return true;
}

/** OmegaConf merge: mappings merge key by key, anything else (lists included) replaces. */
export function deepMerge(base: YamlValue | undefined, over: YamlValue): YamlValue {
  if (!isMap(base) || !isMap(over)) return clone(over);
  const out: YamlMap = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

export function deepEqual(a: YamlValue | undefined, b: YamlValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}
