/**
 * Float conversions between float32 and the 16-bit formats (BF16, F16), which travel as raw 16-bit
 * patterns (Uint16Array). Narrowing rounds to nearest, ties to even, as PyTorch's
 * `.to(torch.bfloat16)` / `.half()` do, so weights we narrow have the bits PyTorch would have written.
 */

// Scratch views for bit casts of single values.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bits -> bfloat16 bits, round to nearest even; every NaN becomes 0x7FC0 (PyTorch's choice). */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  // Adding 0x7FFF plus the lowest kept bit rounds ties towards an even result; overflow carries into
  // the exponent, which turns the largest finite values into ±Inf exactly as IEEE rounding does.
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function f32ToBf16(x: number): number {
  scratchF32[0] = x;
  return f32BitsToBf16(scratchU32[0]!);
}

export function bf16ToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0]!;
}

/** float32 bits -> float16 bits, round to nearest even, overflow to ±Inf, gradual underflow to subnormals. */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const man = bits & 0x7fffff;
  if (exp === 0xff) return man !== 0 ? sign | 0x7e00 | (man >>> 13) : sign | 0x7c00; // NaN stays quiet NaN
  if (exp > 142) return sign | 0x7c00; // ≥ 2^16: beyond f16's 65504 even before rounding
  if (exp < 102) return sign; // < 2^-25: rounds to zero
  if (exp < 113) {
    // Subnormal result: value = m·2^(exp-150), f16 unit is 2^-24, so shift m right by 126-exp (14..24).
    const m = man | 0x800000;
    const shift = 126 - exp;
    const half = 1 << (shift - 1);
    const rem = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rem > half || (rem === half && (h & 1) === 1)) h++; // may carry into the smallest normal: still right
    return sign | h;
  }
  let h = ((exp - 112) << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry into exponent 31 is the correct ±Inf
  return sign | h;
}

export function f32ToF16(x: number): number {
  scratchF32[0] = x;
  return f32BitsToF16(scratchU32[0]!);
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) {
    if (man === 0) return sign * Infinity;
    scratchU32[0] = ((h & 0x8000) << 16) | 0x7f800000 | (man << 13); // keep the payload
    return scratchF32[0]!;
  }
  return sign * (1024 + man) * 2 ** (exp - 25);
}

let f16Table: Float32Array | null = null;
/** All 65536 f16 values widened; built on first use (256 KiB), then a table lookup per element. */
function f16ToF32Table(): Float32Array {
  if (f16Table === null) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

/** Widen BF16 bits into `out` (a bit shift: exact). */
export function bf16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i]! << 16;
  return out;
}

export function f16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const table = f16ToF32Table();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}

export function f32ArrayToBf16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16(bits[i]!);
  return out;
}

export function f32ArrayToF16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16(bits[i]!);
  return out;
}

let bf16ToF16Table: Uint16Array | null = null;

/**
 * BF16 bits -> F16 bits for `src`, without a float32 array in between: each of the 65536 BF16
 * values maps to its nearest-even F16 (the same result as widening to f32, which is exact, and
 * narrowing), through a 128 KiB table built on first use. Beyond ±65504 gives ±Inf; below
 * 2^-24 gives ±0.
 */
export function bf16ArrayToF16(src: Uint16Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (bf16ToF16Table === null) {
    bf16ToF16Table = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) bf16ToF16Table[h] = f32BitsToF16(h << 16);
  }
  const table = bf16ToF16Table;
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return out;
}
