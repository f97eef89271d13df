// Log-prob of the chosen token and entropy straight from logits, never storing the softmax.
import { EXP_NEG_MIN, expNegClamped, hsum, loadN, madd, rowMaxLoose, storeN } from './simd';

/**
 * Rows [start, end) of logits [rows, vocab], z = logits * invT, t = z - max (<= 0):
 * lse = max + log(sum e), e = exp(t); logp = z[id] - lse;
 * entropy = log(sum e) - sum(e * t) / sum e, a sum of non-positive terms, which stays accurate for
 * peaked rows where lse - sum(p z) would cancel.
 *
 * Two passes per row: the max (the only read from memory: a row of a 32k vocabulary is 128 KiB and
 * stays in L2 for the second), then t, e and both sums in one go. t is clamped to expNeg's floor
 * before use, so a -inf logit gives e = 0 and e * t = 0 rather than 0 * -inf.
 */
export function logprobEntropy(logits: usize, ids: usize, logp: usize, entropy: usize, lse: usize, vocab: i32, invT: f32,
  start: i32, end: i32, tid: i32): void {
  const vt = f32x4.splat(invT), ninf = f32x4.splat(-Infinity), zero = f32x4.splat(0), lo = f32x4.splat(EXP_NEG_MIN);
  for (let r = start; r < end; r++) {
    const row = logits + (<usize>r * <usize>vocab << 2);
    const mx = rowMaxLoose(row, vocab, vt);
    const nm = f32x4.splat(-mx);
    let se0 = zero, se1 = zero, sd0 = zero, sd1 = zero;
    let j = 0;
    for (; j + 8 <= vocab; j += 8) {
      const q = row + (<usize>j << 2);
      const t0 = f32x4.pmax(madd(v128.load(q), vt, nm), lo);
      const t1 = f32x4.pmax(madd(v128.load(q, 16), vt, nm), lo);
      const e0 = expNegClamped(t0), e1 = expNegClamped(t1);
      se0 = f32x4.add(se0, e0);
      se1 = f32x4.add(se1, e1);
      sd0 = madd(e0, t0, sd0);
      sd1 = madd(e1, t1, sd1);
    }
    for (; j < vocab; j += 4) {
      // Missing lanes load as -inf and clamp to the floor: e = 0 there, so neither sum sees them.
      const t = f32x4.pmax(madd(loadN(row + (<usize>j << 2), min(4, vocab - j), ninf), vt, nm), lo);
      const e = expNegClamped(t);
      se0 = f32x4.add(se0, e);
      sd0 = madd(e, t, sd0);
    }
    const sum = hsum(f32x4.add(se0, se1));
    const ls = Mathf.log(sum);
    const l = mx + ls;
    const ro = <usize>r << 2;
    store<f32>(lse + ro, l);
    store<f32>(entropy + ro, ls - hsum(f32x4.add(sd0, sd1)) / sum);
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
