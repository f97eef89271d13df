/**
 * Complex arithmetic following CPython 3.9's complexobject.c (the Python TinyZero ran), so that the
 * rare answer that goes through a complex intermediate scores as it did there.
 */
import { PyEvalError, type PyComplex } from './values.js';

const c = (re: number, im: number): PyComplex => ({ k: 'complex', re, im });

export function cAdd(a: PyComplex, b: PyComplex): PyComplex {
  return c(a.re + b.re, a.im + b.im);
}

export function cSub(a: PyComplex, b: PyComplex): PyComplex {
  return c(a.re - b.re, a.im - b.im);
}

export function cMul(a: PyComplex, b: PyComplex): PyComplex {
  return c(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}

/** _Py_c_quot: Smith's method, scaling by the larger component of the divisor. */
export function cDiv(a: PyComplex, b: PyComplex): PyComplex {
  const absRe = Math.abs(b.re);
  const absIm = Math.abs(b.im);
  if (absRe >= absIm) {
    if (absRe === 0) throw new PyEvalError('zero-division', 'complex division by zero');
    const ratio = b.im / b.re;
    const denom = b.re + b.im * ratio;
    return c((a.re + a.im * ratio) / denom, (a.im - a.re * ratio) / denom);
  }
  if (absIm >= absRe) {
    const ratio = b.re / b.im;
    const denom = b.re * ratio + b.im;
    return c((a.re * ratio + a.im) / denom, (a.im * ratio - a.re) / denom);
  }
  return c(NaN, NaN);
}

/** complex_pow: small integral exponents by repeated squaring (c_powi), the rest in polar form. */
export function cPow(a: PyComplex, b: PyComplex): PyComplex {
  const intExp = Math.trunc(b.re);
  const r = b.im === 0 && b.re === intExp && Number.isFinite(b.re) ? powi(a, intExp) : powPolar(a, b);
  if (!Number.isFinite(r.re) || !Number.isFinite(r.im)) {
    if (Number.isNaN(r.re) || Number.isNaN(r.im)) return r;
    throw new PyEvalError('overflow', 'complex exponentiation');
  }
  return r;
}

function powi(x: PyComplex, n: number): PyComplex {
  if (n > 100 || n < -100) return powPolar(x, c(n, 0));
  if (n > 0) return powu(x, n);
  const p = powu(x, -n);
  try {
    return cDiv(c(1, 0), p);
  } catch {
    throw new PyEvalError('zero-division', '0.0 to a negative or complex power');
  }
}

function powu(x: PyComplex, n: number): PyComplex {
  let r = c(1, 0);
  let p = x;
  for (let mask = 1; mask > 0 && n >= mask; mask <<= 1) {
    if (n & mask) r = cMul(r, p);
    p = cMul(p, p);
  }
  return r;
}

function powPolar(a: PyComplex, b: PyComplex): PyComplex {
  if (b.re === 0 && b.im === 0) return c(1, 0);
  if (a.re === 0 && a.im === 0) {
    if (b.im !== 0 || b.re < 0) throw new PyEvalError('zero-division', '0.0 to a negative or complex power');
    return c(0, 0);
  }
  const vabs = Math.hypot(a.re, a.im);
  let len = Math.pow(vabs, b.re);
  const at = Math.atan2(a.im, a.re);
  let phase = at * b.re;
  if (b.im !== 0) {
    len /= Math.exp(at * b.im);
    phase += b.im * Math.log(vabs);
  }
  return c(len * Math.cos(phase), len * Math.sin(phase));
}
