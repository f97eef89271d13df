// Token sampling from logits (Backend.sample): one token id and its log-prob per row, so the row
// itself never leaves the wasm memory.
import { EXP2_NEG_MIN, exp2Clamped, loadN, rowMaxLoose } from './simd';

/** Elements per block of the row sum: each block's sum is kept, so the draw walks blocks, not elements. */
const BLOCK = 256;
/** Buckets of one radix-select digit (8 bits of the 32-bit key). */
const BUCKETS = 256;
// One thread's scratch (the caller sizes it): ceil(vocab / BLOCK) block sums (f64), then BUCKETS
// buckets of (mass, count) as two f64s, then the row's weights (f32, vocab rounded up to 4) for the
// radix selects, which would otherwise recompute each weight on every pass.

/**
 * w = exp((z - m) / T) as 2^((z - m) * c), c = log2(e) / T: the same f32 operations on four lanes
 * or one (sub, mul, clamp, exp2Clamped; no fused multiply-add), so the row sum and the walks agree
 * bit for bit on every weight. The clamp takes -inf logits (and the NaN of -inf * 0) to the floor,
 * where the weight is exactly 0.
 */
// @ts-ignore: decorator
@inline function weights(z: v128, m: v128, c: v128): v128 {
  return exp2Clamped(f32x4.pmax(f32x4.splat(EXP2_NEG_MIN), f32x4.mul(f32x4.sub(z, m), c)));
}

// @ts-ignore: decorator
@inline function weight(z: f32, m: f32, c: f32): f64 {
  return <f64>f32x4.extract_lane(weights(f32x4.splat(z), f32x4.splat(m), f32x4.splat(c)), 0);
}

/** The rank key: larger logit, larger key (-0 counted as +0, as the host's comparison does). */
// @ts-ignore: decorator
@inline function keyOf(z: f32): u32 {
  let b = reinterpret<u32>(z);
  if (b == 0x80000000) b = 0;
  return b ^ (<u32>(<i32>b >> 31) | 0x80000000);
}

// The mass up to and including the element `select` found (AssemblyScript has no tuples).
let selMass: f64 = 0;

/**
 * The first element in rank order (decreasing key, ties by increasing index) where the running
 * count (`byCount`) or running mass reaches `target`, among the elements ranked at or before the
 * limit (key limKey, index limIdx). Radix select over the key's four bytes, highest first: a pass
 * counts and weighs the elements that share the digits chosen so far, by their next byte, and the
 * first bucket from the top where the running total reaches the target is chosen; the last pass
 * leaves one key value, whose elements are walked in index order. Where rounding keeps every total
 * short of the target, the lowest non-empty bucket (and then the last tied element) is taken: the
 * last element within the limit.
 */
function select(row: usize, w: usize, vocab: i32, byCount: bool, target: f64, limKey: u32, limIdx: i32, hist: usize): i32 {
  let prefix: u32 = 0;
  let aboveMass: f64 = 0, aboveCount: f64 = 0;
  for (let shift = 24; shift >= 0; shift -= 8) {
    memory.fill(hist, 0, BUCKETS * 16);
    for (let i = 0; i < vocab; i++) {
      const z = load<f32>(row + (<usize>i << 2));
      const k = keyOf(z);
      if (shift < 24 && (k >>> <u32>(shift + 8)) != prefix) continue;
      if (k < limKey || (k == limKey && i > limIdx)) continue;
      const b = <usize>((k >>> <u32>shift) & 255) << 4;
      store<f64>(hist + b, load<f64>(hist + b) + <f64>load<f32>(w + (<usize>i << 2)));
      store<f64>(hist + b, load<f64>(hist + b, 8) + 1, 8);
    }
    let lowest = 0;
    while (lowest < BUCKETS - 1 && load<f64>(hist + (<usize>lowest << 4), 8) == 0) lowest++;
    let chosen = lowest;
    for (let b = BUCKETS - 1; b > lowest; b--) {
      const p = hist + (<usize>b << 4);
      const n = load<f64>(p, 8);
      if (n == 0) continue;
      const w = load<f64>(p);
      if ((byCount ? aboveCount + n : aboveMass + w) >= target) {
        chosen = b;
        break;
      }
      aboveMass += w;
      aboveCount += n;
    }
    prefix = (prefix << 8) | <u32>chosen;
  }
  let runMass = aboveMass, runCount = aboveCount;
  let last = -1;
  for (let i = 0; i < vocab; i++) {
    const z = load<f32>(row + (<usize>i << 2));
    if (keyOf(z) != prefix || (prefix == limKey && i > limIdx)) continue;
    runMass += <f64>load<f32>(w + (<usize>i << 2));
    runCount += 1;
    last = i;
    if ((byCount ? runCount : runMass) >= target) break;
  }
  selMass = runMass;
  return last;
}

/**
 * Backend.sample for rows [start, end): per row the max (one SIMD pass), the first index holding
 * it, the sum S of the weights by blocks of BLOCK elements (f32 lanes inside a block, f64 across
 * blocks, keeping each block's sum), then the token: the arg-max when greedy; for plain sampling
 * the first index where the running sum reaches u * S, found by walking the block sums and then
 * the weights from the block where it is reached; with top-k/top-p three radix selects over the
 * weights the sum pass kept (the k-th ranked element with the top-k mass; the top-p cut; the draw
 * within the kept set). The log-prob
 * is (z - m) / T - log S in f64. `temperature` <= 0 is greedy (T = 1 for the log-prob).
 */
export function sample(logits: usize, uniforms: usize, tokens: usize, logprobs: usize, vocab: i32, temperature: f64,
  topK: i32, topP: f64, scratch: usize, stride: i32, start: i32, end: i32, tid: i32): void {
  const greedy = temperature <= 0;
  const invT: f64 = greedy ? 1 : 1 / temperature;
  // A temperature so small that log2(e)/T overflows f32 would make the max's own (z - m) * c NaN.
  const c = <f32>min(invT * 1.4426950408889634, 3.4e38);
  const vc = f32x4.splat(c), ninf = f32x4.splat(-Infinity);
  const blocks = (vocab + BLOCK - 1) / BLOCK;
  const sums = scratch + <usize>tid * <usize>stride;
  const hist = sums + (<usize>blocks << 3);
  const wbuf = hist + BUCKETS * 16;
  const plain = (topK <= 0 || topK >= vocab) && topP >= 1;
  for (let r = start; r < end; r++) {
    const row = logits + (<usize>r * <usize>vocab << 2);
    const m = rowMaxLoose(row, vocab);
    let argmax = 0;
    while (argmax < vocab - 1 && load<f32>(row + (<usize>argmax << 2)) != m) argmax++;
    const vm = f32x4.splat(m);
    let total: f64 = 0;
    for (let b = 0; b < blocks; b++) {
      const lo = b * BLOCK, hi = min(lo + BLOCK, vocab);
      let acc = f32x4.splat(0);
      if (plain || greedy) {
        for (let j = lo; j < hi; j += 4) acc = f32x4.add(acc, weights(loadN(row + (<usize>j << 2), min(4, hi - j), ninf), vm, vc));
      } else {
        for (let j = lo; j < hi; j += 4) {
          const e = weights(loadN(row + (<usize>j << 2), min(4, hi - j), ninf), vm, vc);
          v128.store(wbuf + (<usize>j << 2), e);
          acc = f32x4.add(acc, e);
        }
      }
      // Pairwise, so the lanes' order is fixed: (0 + 1) + (2 + 3).
      const s = <f64>(f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + <f64>(f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
      store<f64>(sums + (<usize>b << 3), s);
      total += s;
    }
    let token = argmax;
    if (!greedy) {
      const u = <f64>load<u32>(uniforms + (<usize>r << 2)) / 4294967296.0;
      if (plain) {
        const target = u * total;
        let run: f64 = 0;
        let b = 0;
        while (b < blocks && run + load<f64>(sums + (<usize>b << 3)) < target) run += load<f64>(sums + (<usize>b << 3)), b++;
        // Walk the elements from that block on; past the row's end (rounding), the arg-max stays.
        for (let i = b * BLOCK; i < vocab; i++) {
          run += weight(load<f32>(row + (<usize>i << 2)), m, c);
          if (run >= target) {
            token = i;
            break;
          }
        }
      } else {
        let limKey: u32 = 0, limIdx = vocab;
        let mass = total;
        if (topK > 0 && topK < vocab) {
          limIdx = select(row, wbuf, vocab, true, <f64>topK, limKey, limIdx, hist);
          limKey = keyOf(load<f32>(row + (<usize>limIdx << 2)));
          mass = selMass;
        }
        if (topP < 1) {
          limIdx = select(row, wbuf, vocab, false, topP * mass, limKey, limIdx, hist);
          limKey = keyOf(load<f32>(row + (<usize>limIdx << 2)));
          mass = selMass;
        }
        token = select(row, wbuf, vocab, false, u * mass, limKey, limIdx, hist);
      }
    }
    store<i32>(tokens + (<usize>r << 2), token);
    const z = load<f32>(row + (<usize>token << 2));
    store<f32>(logprobs + (<usize>r << 2), <f32>((<f64>z - <f64>m) * invT - Math.log(total)));
  }
}
