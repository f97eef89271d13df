/**
 * Backend.sample in WGSL: one 256-invocation workgroup per row, invocation t owning the contiguous
 * chunk [t * ch, (t + 1) * ch) of the row, so that "the first index in order" questions become
 * "the first chunk", answered by invocation 0 over the 256 chunk totals, then a walk inside that
 * chunk by its owner. Sums are f32 (WGSL has no f64): a draw whose uniform lies within their
 * rounding of a boundary may pick the neighbour, as the contract allows.
 *
 * Top-k / top-p / the draw among the kept tokens select by rank without sorting: a bisection over
 * the 32-bit rank key (larger logit, larger key) finds the key value where the mass (or count) of
 * the keys at or above it first reaches the goal, 32 passes over the row with a workgroup sum
 * each; the tied elements of that key are then walked in index order as above. Every barrier sits
 * in control flow that is uniform (fixed trip counts, conditions from the uniform parameters).
 *
 * params: rows, vocab, mode (0 greedy, 1 plain, 2 top-k/top-p), topK (0: off), then f32 invT,
 * c = log2(e) * invT (both capped below f32's max), topP.
 */
import { enables, header, storage, workgroupReduce } from './common.js';

export const sampleWgsl = (sub = false): string => enables(false, sub) + header +
  storage([['X', 'f32', 'read'], ['UNI', 'u32', 'read'], ['TOK', 'i32', 'read_write'], ['LP', 'f32', 'read_write']]) +
  workgroupReduce(sub) + /* wgsl */ `
var<workgroup> part: array<f32, 256>;
var<workgroup> partN: array<f32, 256>;
var<workgroup> argmin: atomic<u32>;
var<workgroup> keyMin: atomic<u32>;
var<workgroup> pick: u32;
var<workgroup> pickMass: f32;
var<workgroup> pickCount: f32;
var<workgroup> outIdx: u32;
var<workgroup> outMass: f32;

fn keyOf(z: f32) -> u32 {
  var b = bitcast<u32>(z);
  if (b == 0x80000000u) { b = 0u; }
  return b ^ select(0x80000000u, 0xffffffffu, (b >> 31u) == 1u);
}

// exp((z - m) / T) as 2^((z - m) * c); -inf logits and anything below f32's range give 0.
fn wOf(z: f32, m: f32, c: f32) -> f32 {
  let u = (z - m) * c;
  return select(exp2(u), 0.0, u <= -126.0);
}

fn inLimit(k: u32, i: u32, limKey: u32, limIdx: u32) -> bool {
  return k > limKey || (k == limKey && i <= limIdx);
}

// Invocation 0: the first chunk whose running total reaches the goal, starting from (mass,
// count); the last non-empty chunk where none does. Leaves the chunk in pick and the totals
// before it in pickMass/pickCount. part/partN hold each chunk's mass/count.
fn pickChunk(byCount: bool, goal: f32, mass: f32, count: f32) {
  var runM = mass;
  var runN = count;
  var lastT = 0u;
  var lastM = mass;
  var lastN = count;
  var found = false;
  for (var j = 0u; j < 256u; j++) {
    if (partN[j] == 0.0) { continue; }
    if (select(runM + part[j] >= goal, runN + partN[j] >= goal, byCount)) {
      pick = j;
      pickMass = runM;
      pickCount = runN;
      found = true;
      break;
    }
    lastT = j;
    lastM = runM;
    lastN = runN;
    runM += part[j];
    runN += partN[j];
  }
  if (!found) {
    pick = lastT;
    pickMass = lastM;
    pickCount = lastN;
  }
}

// The first element in rank order (decreasing key, ties by index) within the limit where the
// running count (byCount) or mass reaches goal; the last one within the limit where rounding
// keeps every total short. keyLo/keyHi bracket the keys within the limit. Leaves the running mass
// through the element in outMass.
fn rankSelect(t: u32, base: u32, c0: u32, c1: u32, m: f32, c: f32, byCount: bool, goal: f32,
    limKey: u32, limIdx: u32, keyLo: u32, keyHi: u32) -> u32 {
  var lo = keyLo;
  var hi = keyHi;
  for (var it = 0u; it < 32u; it++) {
    let d = hi - lo;
    let mid = lo + d / 2u + (d & 1u);
    var s = 0.0;
    var n = 0.0;
    for (var i = c0; i < c1; i++) {
      let z = X[base + i];
      let k = keyOf(z);
      if (k >= mid && inLimit(k, i, limKey, limIdx)) {
        s += wOf(z, m, c);
        n += 1.0;
      }
    }
    s = wgSum(s, t);
    n = wgSum(n, t);
    if (lo < hi) {
      if (select(n > 0.0 && s >= goal, n >= goal, byCount)) { lo = mid; } else { hi = mid - 1u; }
    }
  }
  // lo is the key; the mass and count strictly above it, then its ties chunk by chunk.
  var s = 0.0;
  var n = 0.0;
  var ts = 0.0;
  var tn = 0.0;
  for (var i = c0; i < c1; i++) {
    let z = X[base + i];
    let k = keyOf(z);
    if (!inLimit(k, i, limKey, limIdx)) { continue; }
    if (k > lo) {
      s += wOf(z, m, c);
      n += 1.0;
    } else if (k == lo) {
      ts += wOf(z, m, c);
      tn += 1.0;
    }
  }
  s = wgSum(s, t);
  n = wgSum(n, t);
  part[t] = ts;
  partN[t] = tn;
  workgroupBarrier();
  if (t == 0u) { pickChunk(byCount, goal, s, n); }
  workgroupBarrier();
  if (t == pick) {
    var runM = pickMass;
    var runN = pickCount;
    var last = c0;
    for (var i = c0; i < c1; i++) {
      let z = X[base + i];
      if (keyOf(z) != lo || !inLimit(lo, i, limKey, limIdx)) { continue; }
      runM += wOf(z, m, c);
      runN += 1.0;
      last = i;
      if (select(runM >= goal, runN >= goal, byCount)) { break; }
    }
    outIdx = last;
    outMass = runM;
  }
  workgroupBarrier();
  return outIdx;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = linearGroup(wid, nwg);
  if (row >= pu(0u)) { return; }
  let cols = pu(1u);
  let mode = pu(2u);
  let topK = pu(3u);
  let invT = pf(4u);
  let c = pf(5u);
  let topP = pf(6u);
  let base = row * cols;
  let ch = (cols + 255u) / 256u;
  let c0 = min(t * ch, cols);
  let c1 = min(c0 + ch, cols);
  if (t == 0u) {
    atomicStore(&argmin, 0xffffffffu);
    atomicStore(&keyMin, 0xffffffffu);
  }
  var mx = NEG_BIG;
  var kmin = 0xffffffffu;
  for (var i = c0; i < c1; i++) {
    let z = X[base + i];
    mx = max(mx, z);
    kmin = min(kmin, keyOf(z));
  }
  let m = wgMax(mx, t);
  for (var i = c0; i < c1; i++) {
    if (X[base + i] == m) {
      atomicMin(&argmin, i);
      break;
    }
  }
  atomicMin(&keyMin, kmin);
  var s = 0.0;
  for (var i = c0; i < c1; i++) { s += wOf(X[base + i], m, c); }
  part[t] = s;
  partN[t] = f32(c1 - c0);
  let total = wgSum(s, t);
  let argmax = atomicLoad(&argmin);
  let lowKey = atomicLoad(&keyMin);
  let bits = UNI[row];
  // u = bits / 2^32, from two exact halves (a u32 has more bits than an f32's mantissa).
  let u = (f32(bits >> 16u) * 65536.0 + f32(bits & 0xffffu)) * 2.3283064365386963e-10;
  var token = argmax;
  if (mode == 1u) {
    let goal = u * total;
    if (t == 0u) { pickChunk(false, goal, 0.0, 0.0); }
    workgroupBarrier();
    if (t == pick) {
      // From the chosen chunk on; past the row's end (rounding) the arg-max stays.
      var run = pickMass;
      outIdx = argmax;
      for (var i = c0; i < cols; i++) {
        run += wOf(X[base + i], m, c);
        if (run >= goal) {
          outIdx = i;
          break;
        }
      }
    }
    workgroupBarrier();
    token = outIdx;
  } else if (mode == 2u) {
    var limKey = 0u;
    var limIdx = 0xffffffffu;
    var mass = total;
    let topKey = keyOf(m);
    if (topK > 0u) {
      limIdx = rankSelect(t, base, c0, c1, m, c, true, f32(topK), limKey, limIdx, lowKey, topKey);
      limKey = keyOf(X[base + limIdx]);
      mass = outMass;
    }
    if (topP < 1.0) {
      limIdx = rankSelect(t, base, c0, c1, m, c, false, topP * mass, limKey, limIdx, limKey, topKey);
      limKey = keyOf(X[base + limIdx]);
      mass = outMass;
    }
    token = rankSelect(t, base, c0, c1, m, c, false, u * mass, limKey, limIdx, limKey, topKey);
  }
  if (t == 0u) {
    TOK[row] = i32(token);
    LP[row] = (X[base + token] - m) * invT - log(total);
  }
}`;
