// Log-prob of the chosen token and entropy straight from logits, never storing the softmax.
import { EXP_NEG_MIN, EXP2_NEG_MIN, exp2Clamped, expNegClamped, hsum, loadN, madd, rowMaxLoose, rowMinLoose, storeN } from './simd';

/**
 * Rows [start, end) of logits [rows, vocab], z = logits * invT, t = z - max (<= 0):
 * lse = max + log(sum e), e = exp(t); logp = z[id] - lse;
 * entropy = log(sum e) - sum(e * t) / sum e, a sum of non-positive terms, which stays accurate for
 * peaked rows where lse - sum(p z) would cancel.
 *
 * Two passes per row: the max (the only read from memory: a row of a 32k vocabulary is 128 KiB and
 * stays in L2 for the second), then e and both sums in one go. The second pass is compute-bound,
 * so it works in base 2, u = t * log2(e), e = 2^u: the scale by log2(e) rides on the multiply-add
 * that subtracts the max, exp2Clamped's range reduction is two exact subtractions and its
 * polynomial one degree lower (7 multiply-adds per vector with the sums, against 11 through
 * expNegClamped; see exp2Clamped for its error). The max pass reads and compares only (no scale:
 * the max logit times invT is the max of z, rounding being monotonic). That multiply-add,
 * logits * c - m with c = invT * log2(e) and m = the max's logit * c rounded, gives the max's
 * logit the rounding residual r of m rather than 0, so the loop sums 2^(u + r): the error of u
 * stays relative to u, as t's does, and the shift by r is undone once per row (the sums scaled by
 * 2^-r, u moved by -r), with the max's own term counted as exactly 1, so a one-token row gets logp 0
 * and entropy 0. Subtracting r in the loop instead cost an operation and a register per vector:
 * 12-20% of this kernel's time (V8 spilled the constants). u is clamped to exp2Clamped's floor
 * before use, so a -inf logit gives e = 0 and e * u = 0 rather than 0 * -inf. One vector per
 * iteration: TurboFan unrolls the loop itself, and two per iteration ran out of registers.
 */
export function logprobEntropy(logits: usize, ids: usize, logp: usize, entropy: usize, lse: usize, vocab: i32, invT: f32,
  start: i32, end: i32, tid: i32): void {
  const c = <f32>(<f64>invT * 1.4426950408889634);
  const vc = f32x4.splat(c), ninf = f32x4.splat(-Infinity), zero = f32x4.splat(0);
  const lo = f32x4.splat(EXP2_NEG_MIN);
  for (let r = start; r < end; r++) {
    const row = logits + (<usize>r * <usize>vocab << 2);
    // The logit whose z is the max: the max of the logits (their min for a negative invT).
    const top = invT < 0 ? rowMinLoose(row, vocab) : rowMaxLoose(row, vocab);
    const m = top * c;
    // With fused multiply-add, top * c - m is computed exactly: its rounding residual (a float).
    const res: f32 = ASC_FEATURE_RELAXED_SIMD ? <f32>(<f64>top * <f64>c - <f64>m) : 0;
    const nm = f32x4.splat(-m);
    let se = zero, sd = zero;
    let j = 0;
    for (; j + 4 <= vocab; j += 4) {
      const u = f32x4.pmax(madd(v128.load(row + (<usize>j << 2)), vc, nm), lo);
      const e = exp2Clamped(u);
      se = f32x4.add(se, e);
      sd = madd(e, u, sd);
    }
    for (; j < vocab; j += 4) {
      // Missing lanes load as -inf and clamp to the floor: e = 0 there, so neither sum sees them.
      const u = f32x4.pmax(madd(loadN(row + (<usize>j << 2), min(4, vocab - j), ninf), vc, nm), lo);
      const e = exp2Clamped(u);
      se = f32x4.add(se, e);
      sd = madd(e, u, sd);
    }
    // The loop summed 2^(u + res) and e * (u + res): relative to top * c both are scaled by
    // g = 2^-res ~ 1 - res ln2 (res is a rounding residual, so res^2 is below f32's resolution)
    // and u shifts by -res. The max's own term is taken out and counted as exactly 1 (u = 0), as
    // in exact arithmetic, so a one-token row gets sum 1 and entropy 0 exactly (and a zero
    // gradient) however the exp rounded 2^res.
    const eMax = f32x4.extract_lane(exp2Clamped(f32x4.splat(res)), 0);
    const rd = <f64>res, g = 1 - rd * Math.LN2;
    const se1 = <f64>hsum(se) - <f64>eMax;
    const sum = 1 + se1 * g;
    const sumEu = ((<f64>hsum(sd) - <f64>eMax * rd) - rd * se1) * g;
    const ls = Mathf.log(<f32>sum);
    const l = top * invT + ls;
    const ro = <usize>r << 2;
    store<f32>(lse + ro, l);
    store<f32>(entropy + ro, ls - <f32>(sumEu / sum * Math.LN2));
    const id = load<i32>(ids + ro);
    store<f32>(logp + ro, load<f32>(row + (<usize>id << 2)) * invT - l);
  }
}

/**
 * dz_j = (dLogp * (1[j = id] - p_j) - dEntropy * p_j * (log p_j + H)) * invT for rows [start, end),
 * p_j = exp(z_j - lse). Overwrites dLogits. One pass: read a logit, write its gradient. log p_j is
 * clamped to expNeg's floor, so a -inf logit gets a zero gradient rather than 0 * inf.
 */
export function logprobEntropyBackward(logits: usize, ids: usize, lse: usize, entropy: usize, dLogp: usize, dEntropy: usize,
  dLogits: usize, vocab: i32, invT: f32, start: i32, end: i32, tid: i32): void {
  const vt = f32x4.splat(invT), zero = f32x4.splat(0), lo = f32x4.splat(EXP_NEG_MIN);
  for (let r = start; r < end; r++) {
    const ro = <usize>r << 2;
    const row = logits + (<usize>r * <usize>vocab << 2), drow = dLogits + (<usize>r * <usize>vocab << 2);
    const nl = f32x4.splat(-load<f32>(lse + ro)), ent = f32x4.splat(load<f32>(entropy + ro));
    const dl = load<f32>(dLogp + ro);
    const vdl = f32x4.splat(-dl * invT), vde = f32x4.splat(-load<f32>(dEntropy + ro) * invT);
    let j = 0;
    for (; j + 8 <= vocab; j += 8) {
      const o = <usize>j << 2;
      const lp0 = f32x4.pmax(madd(v128.load(row + o), vt, nl), lo);
      const lp1 = f32x4.pmax(madd(v128.load(row + o, 16), vt, nl), lo);
      // -dLogp*p*invT - dEntropy*p*(lp + H)*invT
      v128.store(drow + o, f32x4.mul(expNegClamped(lp0), madd(vde, f32x4.add(lp0, ent), vdl)));
      v128.store(drow + o, f32x4.mul(expNegClamped(lp1), madd(vde, f32x4.add(lp1, ent), vdl)), 16);
    }
    for (; j < vocab; j += 4) {
      const c = min(4, vocab - j), o = <usize>j << 2;
      const lp = f32x4.pmax(madd(loadN(row + o, c, zero), vt, nl), lo);
      storeN(drow + o, f32x4.mul(expNegClamped(lp), madd(vde, f32x4.add(lp, ent), vdl)), c);
    }
    const id = <usize>load<i32>(ids + ro) << 2;
    store<f32>(drow + id, load<f32>(drow + id) + dl * invT);
  }
}
