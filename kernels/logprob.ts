// Log-prob of the chosen token and entropy straight from logits, never storing the softmax.
import { expv, hmax, hsum, loadN, madd, storeN } from './simd';

/**
 * Rows [start, end) of logits [rows, vocab], z = logits * invT:
 * lse = max + log(sum e), e = exp(z - max); logp = z[id] - lse;
 * entropy = log(sum e) + sum(e * (max - z)) / sum e, a sum of non-negative terms, which stays
 * accurate for peaked rows where lse - sum(p z) would cancel.
 */
export function logprobEntropy(logits: usize, ids: usize, logp: usize, entropy: usize, lse: usize, vocab: i32, invT: f32,
  start: i32, end: i32, tid: i32): void {
  const vt = f32x4.splat(invT), ninf = f32x4.splat(-Infinity), zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const row = logits + (<usize>r * <usize>vocab << 2);
    let m = ninf;
    for (let j = 0; j < vocab; j += 4) {
      m = f32x4.max(m, f32x4.mul(loadN(row + (<usize>j << 2), min(4, vocab - j), ninf), vt));
    }
    const mx = hmax(m);
    const vm = f32x4.splat(mx);
    let se = zero, sd = zero;
    for (let j = 0; j < vocab; j += 4) {
      const c = min(4, vocab - j);
      // Missing lanes load as -inf: exp gives 0 and their (max - z) term is masked by e = 0 below.
      const gap = f32x4.sub(vm, f32x4.mul(loadN(row + (<usize>j << 2), c, ninf), vt));
      const e = expv(f32x4.neg(gap));
      se = f32x4.add(se, e);
      sd = f32x4.add(sd, v128.and(f32x4.mul(e, gap), f32x4.ne(e, zero)));
    }
    const sum = hsum(se);
    const ls = Mathf.log(sum);
    const l = mx + ls;
    const ro = <usize>r << 2;
    store<f32>(lse + ro, l);
    store<f32>(entropy + ro, ls + hsum(sd) / sum);
    const id = load<i32>(ids + ro);
    store<f32>(logp + ro, load<f32>(row + (<usize>id << 2)) * invT - l);
  }
}

/**
 * dz_j = (dLogp * (1[j = id] - p_j) - dEntropy * p_j * (log p_j + H)) * invT for rows [start, end),
 * p_j = exp(z_j - lse). Overwrites dLogits.
 */
export function logprobEntropyBackward(logits: usize, ids: usize, lse: usize, entropy: usize, dLogp: usize, dEntropy: usize,
  dLogits: usize, vocab: i32, invT: f32, start: i32, end: i32, tid: i32): void {
  const vt = f32x4.splat(invT), zero = f32x4.splat(0);
  for (let r = start; r < end; r++) {
    const ro = <usize>r << 2;
    const row = logits + (<usize>r * <usize>vocab << 2), drow = dLogits + (<usize>r * <usize>vocab << 2);
    const l = f32x4.splat(load<f32>(lse + ro)), ent = f32x4.splat(load<f32>(entropy + ro));
    const dl = load<f32>(dLogp + ro);
    const vdl = f32x4.splat(-dl * invT), vde = f32x4.splat(-load<f32>(dEntropy + ro) * invT);
    for (let j = 0; j < vocab; j += 4) {
      const c = min(4, vocab - j), o = <usize>j << 2;
      const lp = f32x4.sub(f32x4.mul(loadN(row + o, c, zero), vt), l);
      const p = expv(lp);
      // -dLogp*p*invT - dEntropy*p*(lp + H)*invT
      storeN(drow + o, f32x4.mul(p, madd(vde, f32x4.add(lp, ent), vdl)), c);
    }
    const id = <usize>load<i32>(ids + ro) << 2;
    store<f32>(drow + id, load<f32>(drow + id) + dl * invT);
  }
}
