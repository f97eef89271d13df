/**
 * Python's binary and unary arithmetic on int/float/complex (CPython 3.9 semantics): int op int stays
 * exact, true division of ints is correctly rounded, floor division floors, a negative int exponent
 * goes through float pow, a negative float to a fractional power becomes complex.
 */
import { cAdd, cDiv, cMul, cPow, cSub } from './complex.js';
import {
  MAX_INT_BITS, MAX_WORK, PyEvalError, intBits, intToFloat, pyFloat, pyInt, toComplex, toFloat,
  type PyComplex, type PyFloat, type PyInt, type PyNum,
} from './values.js';

export type BinaryOp = '+' | '-' | '*' | '/' | '//' | '**';

/** Work spent so far on one expression, in 64-bit-word operations (see MAX_WORK). */
export interface Budget {
  work: number;
}

function charge(budget: Budget, units: number): void {
  budget.work += units;
  if (budget.work > MAX_WORK) throw new PyEvalError('too-large', 'expression needs too much big-integer work');
}

const words = (v: number | bigint): number => (typeof v === 'number' ? 1 : Math.ceil(intBits(v) / 64));
const big = (v: number | bigint): bigint => (typeof v === 'bigint' ? v : BigInt(v));

export function negate(x: PyNum): PyNum {
  if (x.k === 'int') return typeof x.v === 'number' ? pyInt(0 - x.v) : pyInt(-x.v);
  if (x.k === 'float') return pyFloat(-x.v);
  return { k: 'complex', re: -x.re, im: -x.im };
}

export function binary(op: BinaryOp, a: PyNum, b: PyNum, budget: Budget): PyNum {
  if (a.k === 'complex' || b.k === 'complex') return complexBinary(op, toComplex(a), toComplex(b));
  if (a.k === 'int' && b.k === 'int') return intBinary(op, a, b, budget);
  return floatBinary(op, toFloat(a), toFloat(b));
}

function intBinary(op: BinaryOp, a: PyInt, b: PyInt, budget: Budget): PyNum {
  const x = a.v;
  const y = b.v;
  if (typeof x === 'number' && typeof y === 'number') {
    switch (op) {
      case '+': {
        const r = x + y; // may round once past 2^53: redo those exactly
        return Number.isSafeInteger(r) ? pyInt(r) : pyInt(BigInt(x) + BigInt(y));
      }
      case '-': {
        const r = x - y;
        return Number.isSafeInteger(r) ? pyInt(r) : pyInt(BigInt(x) - BigInt(y));
      }
      case '*': {
        const p = x * y;
        return Number.isSafeInteger(p) ? pyInt(p) : pyInt(BigInt(x) * BigInt(y));
      }
      case '/':
        if (y === 0) throw new PyEvalError('zero-division', 'division by zero');
        return pyFloat(x / y); // both exact doubles: IEEE division is correctly rounded, as CPython's fast path
      case '//': {
        if (y === 0) throw new PyEvalError('zero-division', 'integer division or modulo by zero');
        const r = x % y;
        const q = (x - r) / y;
        return pyInt(r !== 0 && (r < 0) !== (y < 0) ? q - 1 : q);
      }
      case '**': return intPow(a, b, budget);
    }
  }
  charge(budget, op === '*' || op === '/' || op === '//' ? words(x) * words(y) : words(x) + words(y));
  switch (op) {
    case '+': return pyInt(big(x) + big(y));
    case '-': return pyInt(big(x) - big(y));
    case '*':
      if (intBits(x) + intBits(y) > MAX_INT_BITS + 1) throw new PyEvalError('too-large', `int product wider than ${MAX_INT_BITS} bits`);
      return pyInt(big(x) * big(y));
    case '/': return pyFloat(bigTrueDiv(big(x), big(y)));
    case '//': {
      const bx = big(x);
      const by = big(y);
      if (by === 0n) throw new PyEvalError('zero-division', 'integer division or modulo by zero');
      const q = bx / by;
      return pyInt(bx % by !== 0n && (bx < 0n) !== (by < 0n) ? q - 1n : q);
    }
    case '**': return intPow(a, b, budget);
  }
}

function intPow(a: PyInt, b: PyInt, budget: Budget): PyNum {
  const e = b.v;
  if (e < 0) return floatBinary('**', intToFloat(a.v), intToFloat(e)); // long_pow defers to float_pow
  if (e === 0 || e === 0n) return pyInt(1);
  const base = a.v;
  if (base === 0 || base === 1) return pyInt(base);
  if (base === -1) return pyInt(big(e) % 2n === 0n ? 1 : -1);
  const bits = intBits(base) * Number(e); // an upper bound on the result's width
  if (bits > MAX_INT_BITS + intBits(base)) throw new PyEvalError('too-large', `int power wider than ${MAX_INT_BITS} bits`);
  charge(budget, Math.ceil(bits / 64) ** 2);
  return pyInt(big(base) ** big(e));
}

/** CPython's float_pow, including its special cases and errors. */
function floatPow(iv: number, iw: number): PyFloat | PyComplex {
  if (iw === 0) return pyFloat(1);
  if (Number.isNaN(iv)) return pyFloat(iv);
  if (Number.isNaN(iw)) return pyFloat(iv === 1 ? 1 : iw);
  const isOddInt = (w: number): boolean => Number.isInteger(w) && Math.abs(w % 2) === 1;
  if (!Number.isFinite(iw)) {
    const a = Math.abs(iv);
    if (a === 1) return pyFloat(1);
    return pyFloat((iw > 0) === (a > 1) ? Math.abs(iw) : 0);
  }
  if (!Number.isFinite(iv)) {
    if (iw > 0) return pyFloat(isOddInt(iw) ? iv : Math.abs(iv));
    return pyFloat(isOddInt(iw) ? (iv < 0 ? -0 : 0) : 0);
  }
  if (iv === 0) {
    if (iw < 0) throw new PyEvalError('zero-division', '0.0 cannot be raised to a negative power');
    return pyFloat(isOddInt(iw) ? iv : 0);
  }
  let negate = false;
  if (iv < 0) {
    if (iw !== Math.floor(iw)) return cPow(toComplex(pyFloat(iv)), toComplex(pyFloat(iw)));
    iv = -iv;
    negate = isOddInt(iw);
  }
  if (iv === 1) return pyFloat(negate ? -1 : 1);
  const r = Number.isInteger(iw) && Math.abs(iw) <= 64 ? exactPow(iv, iw) : Math.pow(iv, iw);
  if (!Number.isFinite(r)) throw new PyEvalError('overflow', 'Numerical result out of range');
  return pyFloat(negate ? -r : r);
}

function floatBinary(op: BinaryOp, x: number, y: number): PyNum {
  switch (op) {
    case '+': return pyFloat(x + y);
    case '-': return pyFloat(x - y);
    case '*': return pyFloat(x * y);
    case '/':
      if (y === 0) throw new PyEvalError('zero-division', 'float division by zero');
      return pyFloat(x / y);
    case '//': return pyFloat(floatFloorDiv(x, y));
    case '**': return floatPow(x, y);
  }
}

/**
 * iv ** n for a positive finite double and a small integer n, correctly rounded like glibc's pow
 * (V8's Math.pow is off by an ulp on e.g. 25 ** -2, which flips floor divisions).
 */
function exactPow(iv: number, n: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, iv);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp = biased - 1075;
  if (biased === 0) exp = -1074;
  else mant |= 1n << 52n;
  const m = mant ** BigInt(Math.abs(n));
  const e = exp * Math.abs(n);
  return n > 0 ? ratioToFloat(m, 1n, e) : ratioToFloat(1n, m, -e);
}

/** CPython's _float_div_mod, floor-quotient part: fmod-based so it agrees with `%`. */
function floatFloorDiv(vx: number, wx: number): number {
  if (wx === 0) throw new PyEvalError('zero-division', 'float floor division by zero');
  const mod = vx % wx; // JS % on doubles is C fmod: exact
  let div = (vx - mod) / wx;
  if (mod !== 0 && (wx < 0) !== (mod < 0)) div -= 1;
  if (div === 0) return (vx / wx < 0 ? -0 : 0);
  let floordiv = Math.floor(div);
  if (div - floordiv > 0.5) floordiv += 1;
  return floordiv;
}

function complexBinary(op: BinaryOp, a: PyComplex, b: PyComplex): PyNum {
  switch (op) {
    case '+': return cAdd(a, b);
    case '-': return cSub(a, b);
    case '*': return cMul(a, b);
    case '/': return cDiv(a, b);
    case '//': throw new PyEvalError('type', "can't take floor of complex number.");
    case '**': return cPow(a, b);
  }
}

/** long_true_divide: the correctly rounded quotient of two ints, OverflowError past the float range. */
function bigTrueDiv(a: bigint, b: bigint): number {
  if (b === 0n) throw new PyEvalError('zero-division', 'division by zero');
  const negative = (a < 0n) !== (b < 0n);
  const A = a < 0n ? -a : a;
  const B = b < 0n ? -b : b;
  if (A === 0n) return negative ? -0 : 0;
  const r = ratioToFloat(A, B, 0);
  if (!Number.isFinite(r)) throw new PyEvalError('overflow', 'integer division result too large for a float');
  return negative ? -r : r;
}

/** A / B * 2^exp2 correctly rounded (A, B > 0; subnormal results may round twice). */
function ratioToFloat(A: bigint, B: bigint, exp2: number): number {
  // Scale so the integer quotient has at least 55 bits, then keep a sticky bit for the remainder:
  // Number() rounds that to 53 bits half-to-even, which is the correctly rounded quotient.
  let shift = intBits(B) - intBits(A) + 55;
  const num = shift >= 0 ? A << BigInt(shift) : A;
  const den = shift >= 0 ? B : B << BigInt(-shift);
  let q = num / den;
  q = (q << 1n) | (num % den === 0n ? 0n : 1n);
  shift += 1;
  return ldexp(Number(q), exp2 - shift);
}

function ldexp(x: number, e: number): number {
  while (e > 1000) { x *= 2 ** 1000; e -= 1000; }
  while (e < -1000) { x *= 2 ** -1000; e += 1000; }
  return x * 2 ** e;
}
