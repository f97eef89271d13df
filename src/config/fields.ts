/**
 * Building blocks of the schema: value types (what a key accepts, and how to say so in an error)
 * and leaves (a type, the default, a one-line doc). `Section<T>` maps a config interface to its
 * schema, so a key missing from the schema, or one with the wrong value type, fails to compile.
 */
import type { YamlMap, YamlValue } from './types.js';

/** A whole-value OmegaConf interpolation such as `${data.max_prompt_length}`. */
export type Interpolation = `\${${string}}`;

export interface ValueType<V> {
  /** for errors: "an integer ≥ 1", "one of 'gae' | 'grpo'" */
  readonly expected: string;
  /** V is a phantom here: a value that passes is used as a V (validate.ts does the one cast). */
  readonly accepts: (raw: YamlValue) => boolean;
  readonly __value?: V;
}

export interface LeafOptions {
  /**
   * Not in TinyZero's ppo_trainer.yaml: veRL users set it with `+key=value` (it read the key with
   * `.get`) and our own additions are new to them too, so `+` is accepted here as well as `key=value`.
   */
  added?: boolean;
}

/** A key with a value. `open` leaves are maps that take new entries (`+path.entry=value`). */
export class LeafSpec<V> {
  constructor(
    readonly type: ValueType<V>,
    readonly defaultValue: V | Interpolation,
    readonly doc: string,
    readonly added: boolean,
    readonly open: boolean,
  ) {}
}

type IsOpenMap<V> = string extends keyof V ? true : false;

/** The schema of one config value: a leaf for scalars, lists and open maps, a section for interfaces. */
export type Field<V> = [V] extends [object]
  ? [V] extends [readonly unknown[]]
    ? LeafSpec<V>
    : IsOpenMap<V> extends true
      ? LeafSpec<V>
      : Section<V>
  : LeafSpec<V>;

export type Section<T> = { readonly [K in keyof T]-?: Field<T[K]> };

export function field<V>(type: ValueType<V>, def: V | Interpolation, doc: string, options: LeafOptions = {}): LeafSpec<V> {
  return new LeafSpec(type, def, doc, options.added ?? false, false);
}

/** An open map (e.g. `override_config`): any YAML mapping, entries added with `+`. */
export function openMap(doc: string): LeafSpec<YamlMap> {
  return new LeafSpec(mapping, {}, doc, false, true);
}

// ---- value types ----

interface Range {
  min?: number;
  max?: number;
  /** strict lower bound */
  gt?: number;
}

function rangeText(r: Range): string {
  const parts: string[] = [];
  if (r.gt !== undefined) parts.push(`> ${r.gt}`);
  if (r.min !== undefined) parts.push(`≥ ${r.min}`);
  if (r.max !== undefined) parts.push(`≤ ${r.max}`);
  return parts.length > 0 ? ` ${parts.join(' and ')}` : '';
}

function inRange(x: number, r: Range): boolean {
  return (r.min === undefined || x >= r.min) && (r.max === undefined || x <= r.max) && (r.gt === undefined || x > r.gt);
}

export function int(range: Range = {}): ValueType<number> {
  return {
    expected: `an integer${rangeText(range)}`,
    accepts: (raw) => typeof raw === 'number' && Number.isSafeInteger(raw) && inRange(raw, range),
  };
}

/** A finite number (ints included, as YAML writes `1` for `1.0`). */
export function float(range: Range = {}): ValueType<number> {
  return {
    expected: `a number${rangeText(range)}`,
    accepts: (raw) => typeof raw === 'number' && Number.isFinite(raw) && inRange(raw, range),
  };
}

export const bool: ValueType<boolean> = {
  expected: 'a boolean (true/false)',
  accepts: (raw) => typeof raw === 'boolean',
};

export const str: ValueType<string> = {
  expected: 'a string',
  accepts: (raw) => typeof raw === 'string',
};

export const mapping: ValueType<YamlMap> = {
  expected: 'a mapping',
  accepts: (raw) => isMap(raw),
};

export function oneOf<const L extends string>(values: readonly L[]): ValueType<L> {
  return {
    expected: `one of ${values.map((v) => `'${v}'`).join(' | ')}`,
    accepts: (raw) => typeof raw === 'string' && (values as readonly string[]).includes(raw),
  };
}

export function nullable<V>(inner: ValueType<V>): ValueType<V | null> {
  return {
    expected: `${inner.expected} or null`,
    accepts: (raw) => raw === null || inner.accepts(raw),
  };
}

export function listOf<V>(inner: ValueType<V>): ValueType<V[]> {
  return {
    expected: `a list, each ${inner.expected}`,
    accepts: (raw) => Array.isArray(raw) && raw.every((x) => inner.accepts(x)),
  };
}

export function pair<V>(inner: ValueType<V>): ValueType<[V, V]> {
  return {
    expected: `a list of two values, each ${inner.expected}`,
    accepts: (raw) => Array.isArray(raw) && raw.length === 2 && raw.every((x) => inner.accepts(x)),
  };
}

export function either<A, B>(a: ValueType<A>, b: ValueType<B>): ValueType<A | B> {
  return {
    expected: `${a.expected} or ${b.expected}`,
    accepts: (raw) => a.accepts(raw) || b.accepts(raw),
  };
}

export function isMap(v: YamlValue | undefined): v is YamlMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
