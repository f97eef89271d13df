/** Typed readers for config.json keys; each error names the file, the key and the bad value. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Source {
  readonly file: string;
  readonly o: Readonly<Record<string, Json>>;
}

function fail(s: Source, key: string, want: string): never {
  throw new Error(`${s.file}: ${key} must be ${want}, got ${JSON.stringify(s.o[key])}`);
}

/** A required positive integer. */
export function positiveInt(s: Source, key: string): number {
  const v = s.o[key];
  if (v === undefined || v === null) throw new Error(`${s.file}: missing required key ${key}`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(s, key, 'a positive integer');
  return v;
}

/** An optional positive integer. */
export function intKey(s: Source, key: string, fallback: number): number {
  return s.o[key] == null ? fallback : positiveInt(s, key);
}

/** An optional finite number satisfying `ok`. */
export function numberKey(s: Source, key: string, fallback: number, ok: (x: number) => boolean): number {
  const v = s.o[key];
  if (v == null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(s, key, 'a positive number');
  return v;
}

/** A token id in [0, vocab), or null; a list of ids when `allowList` (HF eos_token_id may be one). */
export function optionalTokenId(s: Source, key: string, fallback: number | null, vocab: number, allowList = false): number | number[] | null {
  const v = Object.hasOwn(s.o, key) ? s.o[key] : fallback;
  if (v === null || v === undefined) return null;
  const isId = (x: Json): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < vocab;
  if (isId(v)) return v;
  if (allowList && Array.isArray(v) && v.length > 0 && v.every(isId)) return v as number[];
  return fail(s, key, `${allowList ? 'a token id or list of ids' : 'a token id'} in [0, ${vocab}) or null`);
}
