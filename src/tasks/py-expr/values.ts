/**
 * Python numbers as the expression evaluator sees them. An `int` is a JS number while it is a safe
 * integer and a bigint beyond that (so small arithmetic stays fast); `float` is an IEEE double like
 * CPython's; `complex` appears only where CPython produces one (a negative base to a fractional power).
 */
export type PyInt = { k: 'int'; v: number | bigint };
export type PyFloat = { k: 'float'; v: number };
export type PyComplex = { k: 'complex'; re: number; im: number };
export type PyNum = PyInt | PyFloat | PyComplex;

/** Why an expression could not be evaluated; mirrors the Python exception it stands for where there is one. */
export type PyEvalErrorKind =
  | 'syntax' // SyntaxError, including too many nested parentheses
  | 'zero-division' // ZeroDivisionError
  | 'overflow' // OverflowError
  | 'type' // TypeError: calling a number, arithmetic on `()`, complex floor division
  | 'too-large' // we give up: an int or a computation beyond our size/work budget (Python would hang)
  | 'too-deep'; // RecursionError during compilation in CPython 3.11

export class PyEvalError extends Error {
  constructor(readonly kind: PyEvalErrorKind, message: string) {
    super(message);
    this.name = 'PyEvalError';
  }
}

/** Ints wider than this many bits are not evaluated: the answer is scored as not evaluable. */
export const MAX_INT_BITS = 20_000;
/** Budget in 64-bit-word operations for one expression, so big-int chains stay bounded in time. */
export const MAX_WORK = 4_000_000;

export function pyInt(v: number | bigint): PyInt {
  if (typeof v === 'bigint') {
    if (v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return { k: 'int', v: Number(v) };
    if (bitLength(v) > MAX_INT_BITS) throw new PyEvalError('too-large', `int wider than ${MAX_INT_BITS} bits`);
    return { k: 'int', v };
  }
  if (!Number.isSafeInteger(v)) return pyInt(BigInt(v));
  return { k: 'int', v: v === 0 ? 0 : v }; // never a -0 int
}

export function pyFloat(v: number): PyFloat {
  return { k: 'float', v };
}

export function bitLength(v: bigint): number {
  if (v < 0n) v = -v;
  if (v === 0n) return 0;
  const hex = v.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

export function intBits(v: number | bigint): number {
  if (typeof v === 'bigint') return bitLength(v);
  const a = Math.abs(v);
  return a === 0 ? 0 : Math.floor(Math.log2(a)) + 1;
}

/** int -> float as CPython does: correctly rounded, OverflowError when out of range. */
export function intToFloat(v: number | bigint): number {
  if (typeof v === 'number') return v;
  const f = Number(v);
  if (!Number.isFinite(f)) throw new PyEvalError('overflow', 'int too large to convert to float');
  return f;
}

export function toFloat(x: PyInt | PyFloat): number {
  return x.k === 'float' ? x.v : intToFloat(x.v);
}

export function toComplex(x: PyNum): PyComplex {
  if (x.k === 'complex') return x;
  return { k: 'complex', re: toFloat(x), im: 0 };
}

/** Python's repr-like rendering, for messages and the CLI. */
export function formatPyNum(x: PyNum): string {
  if (x.k === 'int') return String(x.v);
  if (x.k === 'float') return formatFloat(x.v);
  const im = `${formatFloat(x.im).replace(/\.0$/, '')}j`;
  if (x.re === 0 && !Object.is(x.re, -0)) return im;
  return `(${formatFloat(x.re).replace(/\.0$/, '')}${x.im >= 0 || Number.isNaN(x.im) ? '+' : ''}${im})`;
}

function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v < 0 || Object.is(v, -0) ? '-' : ''}${Math.abs(v)}.0`;
  return String(v).replace(/e\+?/, 'e+').replace('e+-', 'e-');
}
