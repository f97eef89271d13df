/**
 * Fused causal attention with grouped KV heads (see AttentionArgs), flash-attention style: no
 * [Tq, Tk] score matrix is stored. The head size D is compiled in, so q, the output accumulator
 * and the gradient accumulators live in registers.
 *
 * - forward: a 64-invocation workgroup takes 64 queries of one (batch, head); K/V tiles of TK keys
 *   pass through workgroup memory and each invocation keeps an online softmax (running max, sum).
 * - backward, in three kernels so no two invocations ever add into the same element:
 *   `stats` packs [lse | delta = rowsum(dOut * out)] into one buffer (it keeps the others within
 *   8 storage bindings, the WebGPU default), `dq` walks keys per query like the forward, and `dkdv`
 *   takes 64 keys of one (batch, kv head) per workgroup and walks every query of every head in the
 *   group through workgroup tiles, accumulating dk and dv in registers before one += store.
 * - keyStart (variable-length attention on packed sequences): the forward reads it from KS, the
 *   backward kernels from a third section of stats (as f32, exact below 2^24). Query kernels start at
 *   the key tile holding their workgroup's smallest keyStart and skip each key before their own;
 *   dkdv skips the queries that start after its key.
 *
 * params: 0 B, 1 Tq, 2 H, 3 Hkv, 4 pastLen, 5 kvBatchStride, 6 scale (f32), 7 hasBias,
 * 8 blocks per (batch, head), 9 workgroups, 10 B*H*Tq (the offset of delta in stats), 11 hasKeyStart.
 */
import { header, storage } from './common.js';

export const ATTENTION_BLOCK = 64;

/** Keys (or queries) per workgroup tile: two [tile, D] f32 tiles stay within 16 KiB. */
export const attentionTile = (D: number): number => Math.max(1, Math.min(64, Math.floor(2048 / D)));

const prologue = /* wgsl */ `
  let g = linearGroup(wid, nwg);
  if (g >= pu(9u)) { return; }
  let Tq = pu(1u); let H = pu(2u); let Hkv = pu(3u); let past = pu(4u); let kvs = pu(5u);
  let scale = pf(6u); let hasBias = pu(7u) != 0u; let nb = pu(8u); let hasKs = pu(11u) != 0u;
  let Tk = past + Tq;`;

const dot = (a: string, b: string): string => `var s = 0.0;\n      for (var d = 0u; d < D; d++) { s += ${a} * ${b}; }`;

/**
 * Per-query kernel shared by the forward pass and dq: loads K/V tiles and calls `perKey` for each
 * visible key. `keyStart` is a WGSL expression for the query's first key (b, i: its batch item and
 * clamped query index; sIdx its stats index).
 */
function queryKernel(D: number, decls: string, init: string, perKey: string, finish: string, keyStart: string): string {
  const TK = attentionTile(D);
  return header + decls + /* wgsl */ `
const D = ${D}u;
const TK = ${TK}u;
var<workgroup> Ks: array<f32, ${TK * D}>;
var<workgroup> Vs: array<f32, ${TK * D}>;
var<workgroup> Bs: array<f32, ${TK}>;
var<workgroup> firstKey: atomic<u32>;
var<workgroup> firstKeyPlain: u32;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${prologue}
  let qb = g % nb;
  let bh = g / nb;
  let h = bh % H;
  let b = bh / H;
  let kh = h / (H / Hkv);
  let i = qb * 64u + t;
  let live = i < Tq;
  let qBase = ((b * Tq + min(i, Tq - 1u)) * H + h) * D;
  let sIdx = (b * H + h) * Tq + min(i, Tq - 1u);
  var q: array<f32, ${D}>;
  for (var d = 0u; d < D; d++) { q[d] = Q[qBase + d]; }
${init}
  let nKeys = past + min(Tq, (qb + 1u) * 64u);
  let limit = past + i;
  var ks = 0u;
  if (hasKs) { ks = ${keyStart}; }
  // The workgroup starts at the tile holding its smallest first key.
  if (t == 0u) { atomicStore(&firstKey, 0xffffffffu); }
  workgroupBarrier();
  if (live) { atomicMin(&firstKey, ks); }
  workgroupBarrier();
  if (t == 0u) { firstKeyPlain = atomicLoad(&firstKey); }
  let kLo = (workgroupUniformLoad(&firstKeyPlain) / TK) * TK;
  for (var k0 = kLo; k0 < nKeys; k0 += TK) {
    for (var e = t; e < TK * D; e += 64u) {
      let j = k0 + e / D;
      var kv = 0.0;
      var vv = 0.0;
      if (j < nKeys) {
        let o = b * kvs + (j * Hkv + kh) * D + e % D;
        kv = K[o];
        vv = V[o];
      }
      Ks[e] = kv;
      Vs[e] = vv;
    }
    if (t < TK) {
      let j = k0 + t;
      var bb = 0.0;
      if (hasBias && j < nKeys) { bb = KB[b * Tk + j]; }
      Bs[t] = bb;
    }
    workgroupBarrier();
    if (live) {
      for (var jj = 0u; jj < TK; jj++) {
        if (k0 + jj > limit) { break; }
        if (k0 + jj < ks) { continue; }
        let kOff = jj * D;
        ${dot('q[d]', 'Ks[kOff + d]')}
        let score = s * scale + Bs[jj];
${perKey}
      }
    }
    workgroupBarrier();
  }
  if (live) {
${finish}
  }
}`;
}

export const attentionForwardWgsl = (D: number): string => queryKernel(D,
  storage([['Q', 'f32', 'read'], ['K', 'f32', 'read'], ['V', 'f32', 'read'], ['KB', 'f32', 'read'],
    ['OUT', 'f32', 'read_write'], ['LSE', 'f32', 'read_write'], ['KS', 'i32', 'read']]),
  `  var acc: array<f32, ${D}>;
  for (var d = 0u; d < D; d++) { acc[d] = 0.0; }
  var mx = NEG_BIG;
  var l = 0.0;`,
  `        if (score > mx) {
          let corr = exp(mx - score);
          l *= corr;
          for (var d = 0u; d < D; d++) { acc[d] *= corr; }
          mx = score;
        }
        let p = exp(score - mx);
        l += p;
        for (var d = 0u; d < D; d++) { acc[d] += p * Vs[kOff + d]; }`,
  `    LSE[sIdx] = mx + log(l);
    for (var d = 0u; d < D; d++) { OUT[qBase + d] = acc[d] / l; }`,
  'u32(KS[b * Tq + min(i, Tq - 1u)])');

/**
 * The forward for one query per (batch, head) without keyStart (a decoding step): the per-query
 * kernel gives each query one invocation of 64, which then walks every key alone. Here a
 * 64-invocation workgroup per (batch, head) takes the keys 64 at a time: invocation t scores key
 * k0 + t, the tile's max and sum go through workgroup memory (the online softmax), and invocation t
 * accumulates output dimensions t, t + 64, ... over the tile's keys (neighbouring invocations read
 * neighbouring elements of V). Same params and bindings as attentionForwardWgsl.
 */
export const attentionDecodeWgsl = (D: number): string => header +
  storage([['Q', 'f32', 'read'], ['K', 'f32', 'read'], ['V', 'f32', 'read'], ['KB', 'f32', 'read'],
    ['OUT', 'f32', 'read_write'], ['LSE', 'f32', 'read_write'], ['KS', 'i32', 'read']]) + /* wgsl */ `
const D = ${D}u;
const DPT = ${Math.ceil(D / 64)}u;
var<workgroup> qs: array<f32, ${D}>;
var<workgroup> probs: array<f32, 64>;
// One array per reduction: with one shared by both, Mesa's OpenGL ES path gave invocations 0-7
// another tile max than invocations 8-15 (seen 2026-12-04, cause not found; lavapipe's Vulkan was right).
var<workgroup> redMax: array<f32, 64>;
var<workgroup> redSum: array<f32, 64>;
fn tileMax(v: f32, t: u32) -> f32 {
  redMax[t] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (t < s) { redMax[t] = max(redMax[t], redMax[t + s]); }
    workgroupBarrier();
  }
  let r = redMax[0];
  workgroupBarrier();
  return r;
}
fn tileSum(v: f32, t: u32) -> f32 {
  redSum[t] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (t < s) { redSum[t] += redSum[t + s]; }
    workgroupBarrier();
  }
  let r = redSum[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${prologue}
  let h = g % H;
  let b = g / H;
  let kh = h / (H / Hkv);
  let qBase = (b * H + h) * D;
  for (var d = t; d < D; d += 64u) { qs[d] = Q[qBase + d]; }
  workgroupBarrier();
  var acc: array<f32, DPT>;
  for (var r = 0u; r < DPT; r++) { acc[r] = 0.0; }
  var mx = NEG_BIG;
  var l = 0.0;
  for (var k0 = 0u; k0 < Tk; k0 += 64u) {
    let j = k0 + t;
    var score = NEG_BIG;
    if (j < Tk) {
      let kOff = b * kvs + (j * Hkv + kh) * D;
      ${dot('qs[d]', 'K[kOff + d]')}
      score = s * scale;
      if (hasBias) { score += KB[b * Tk + j]; }
    }
    let m = max(mx, tileMax(score, t));
    var p = 0.0;
    if (j < Tk) { p = exp(score - m); }
    probs[t] = p;
    let corr = exp(mx - m);
    l = l * corr + tileSum(p, t);
    mx = m;
    let n = min(64u, Tk - k0);
    for (var r = 0u; r < DPT; r++) {
      let d = t + 64u * r;
      if (d < D) {
        var a = acc[r] * corr;
        for (var jj = 0u; jj < n; jj++) { a += probs[jj] * V[b * kvs + ((k0 + jj) * Hkv + kh) * D + d]; }
        acc[r] = a;
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < DPT; r++) {
    let d = t + 64u * r;
    if (d < D) { OUT[qBase + d] = acc[r] / l; }
  }
  if (t == 0u) { LSE[b * H + h] = mx + log(l); }
}`;

export const attentionDqWgsl = (D: number): string => queryKernel(D,
  storage([['Q', 'f32', 'read'], ['K', 'f32', 'read'], ['V', 'f32', 'read'], ['KB', 'f32', 'read'],
    ['ST', 'f32', 'read'], ['DO', 'f32', 'read'], ['DQ', 'f32', 'read_write']]),
  `  var go: array<f32, ${D}>;
  var acc: array<f32, ${D}>;
  for (var d = 0u; d < D; d++) { go[d] = DO[qBase + d]; acc[d] = 0.0; }
  let lse = ST[sIdx];
  let delta = ST[pu(10u) + sIdx];`,
  `        let p = exp(score - lse);
        var dp = 0.0;
        for (var d = 0u; d < D; d++) { dp += go[d] * Vs[kOff + d]; }
        let ds = p * (dp - delta) * scale;
        for (var d = 0u; d < D; d++) { acc[d] += ds * Ks[kOff + d]; }`,
  `    for (var d = 0u; d < D; d++) { DQ[qBase + d] = acc[d]; }`,
  'u32(ST[2u * pu(10u) + sIdx])');

/**
 * params: 0 rows (B*Tq*H), 1 Tq, 2 H, 3 D, 4 B*H*Tq, 5 hasKeyStart. One invocation per query row;
 * with keyStart, stats gets a third section holding each row's first key as f32.
 */
export const attentionStatsWgsl = (): string => header +
  storage([['O', 'f32', 'read'], ['DO', 'f32', 'read'], ['LSE', 'f32', 'read'], ['ST', 'f32', 'read_write'], ['KS', 'i32', 'read']]) + /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let idx = linearGroup(wid, nwg) * 256u + t;
  if (idx >= pu(0u)) { return; }
  let Tq = pu(1u); let H = pu(2u); let D = pu(3u);
  let h = idx % H;
  let i = (idx / H) % Tq;
  let b = idx / (H * Tq);
  let sIdx = (b * H + h) * Tq + i;
  var s = 0.0;
  for (var d = 0u; d < D; d++) { s += DO[idx * D + d] * O[idx * D + d]; }
  ST[sIdx] = LSE[sIdx];
  ST[pu(4u) + sIdx] = s;
  if (pu(5u) != 0u) { ST[2u * pu(4u) + sIdx] = f32(KS[b * Tq + i]); }
}`;

/**
 * dk and dv. Grouped (perHead false): a workgroup per 64 keys of one (batch, kv head), walking every
 * head of the group and adding into DK and DV. Per head: a workgroup per 64 keys of one (batch,
 * query head), writing that head's share to DK and DV as [B, H, Tk, D] scratch, which
 * `attentionGroupSumWgsl` then adds in head order; the group's heads then run in parallel (Qwen2.5's
 * 14 heads over 2 kv heads gave a 4 x 256-token batch 32 workgroups grouped, 224 per head).
 */
export const attentionDkDvWgsl = (D: number, perHead = false): string => {
  const TQ = attentionTile(D);
  const heads = perHead
    ? `  let bk = g / nb;
  let h = bk % H;
  let b = bk / H;
  let group = H / Hkv;
  let kh = h / group;`
    : `  let bk = g / nb;
  let kh = bk % Hkv;
  let b = bk / Hkv;
  let group = H / Hkv;`;
  const headLoop = perHead ? '  {' : `  for (var hh = 0u; hh < group; hh++) {
    let h = kh * group + hh;`;
  const store = perHead
    ? `    let pBase = ((b * H + h) * Tk + j) * D;
    for (var d = 0u; d < D; d++) {
      DK[pBase + d] = dk[d];
      DV[pBase + d] = dv[d];
    }`
    : `    for (var d = 0u; d < D; d++) {
      DK[kBase + d] += dk[d];
      DV[kBase + d] += dv[d];
    }`;
  return header + storage([['Q', 'f32', 'read'], ['K', 'f32', 'read'], ['V', 'f32', 'read'], ['KB', 'f32', 'read'],
    ['ST', 'f32', 'read'], ['DO', 'f32', 'read'], ['DK', 'f32', 'read_write'], ['DV', 'f32', 'read_write']]) + /* wgsl */ `
const D = ${D}u;
const TQ = ${TQ}u;
var<workgroup> Qs: array<f32, ${TQ * D}>;
var<workgroup> Gs: array<f32, ${TQ * D}>;
var<workgroup> Ls: array<f32, ${TQ}>;
var<workgroup> Ds: array<f32, ${TQ}>;
var<workgroup> Ss: array<u32, ${TQ}>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
${prologue}
  let kb = g % nb;
${heads}
  let j = kb * 64u + t;
  let live = j < Tk;
  let kBase = b * kvs + (min(j, Tk - 1u) * Hkv + kh) * D;
  var kv: array<f32, ${D}>;
  var vv: array<f32, ${D}>;
  var dk: array<f32, ${D}>;
  var dv: array<f32, ${D}>;
  for (var d = 0u; d < D; d++) { kv[d] = K[kBase + d]; vv[d] = V[kBase + d]; dk[d] = 0.0; dv[d] = 0.0; }
  var bj = 0.0;
  if (hasBias && live) { bj = KB[b * Tk + j]; }
  // The first query that sees this block's first key.
  let iStart = max(kb * 64u, past) - past;
${headLoop}
    for (var i0 = iStart; i0 < Tq; i0 += TQ) {
      for (var e = t; e < TQ * D; e += 64u) {
        let i = i0 + e / D;
        var qv = 0.0;
        var gv = 0.0;
        if (i < Tq) {
          let o = ((b * Tq + i) * H + h) * D + e % D;
          qv = Q[o];
          gv = DO[o];
        }
        Qs[e] = qv;
        Gs[e] = gv;
      }
      if (t < TQ) {
        let i = min(i0 + t, Tq - 1u);
        let sIdx = (b * H + h) * Tq + i;
        Ls[t] = ST[sIdx];
        Ds[t] = ST[pu(10u) + sIdx];
        var first = 0u;
        if (hasKs) { first = u32(ST[2u * pu(10u) + sIdx]); }
        Ss[t] = first;
      }
      workgroupBarrier();
      if (live) {
        for (var ii = 0u; ii < TQ; ii++) {
          let i = i0 + ii;
          if (i >= Tq) { break; }
          if (j > past + i || j < Ss[ii]) { continue; }
          let qOff = ii * D;
          var s = 0.0;
          var dp = 0.0;
          for (var d = 0u; d < D; d++) {
            s += Qs[qOff + d] * kv[d];
            dp += Gs[qOff + d] * vv[d];
          }
          let p = exp(s * scale + bj - Ls[ii]);
          let ds = p * (dp - Ds[ii]) * scale;
          for (var d = 0u; d < D; d++) {
            dk[d] += ds * Qs[qOff + d];
            dv[d] += p * Gs[qOff + d];
          }
        }
      }
      workgroupBarrier();
    }
  }
  if (live) {
${store}
  }
}`;
};

/**
 * params: 0 n (B*Tk*Hkv*D), 1 Tk, 2 H, 3 Hkv, 4 D, 5 kvBatchStride. DK[b, j, kh, d] (batch stride
 * kvBatchStride) += the sum over the group's heads, in order, of PK[b, h, j, d]; DV likewise.
 */
export const attentionGroupSumWgsl = (): string => header +
  storage([['PK', 'f32', 'read'], ['PV', 'f32', 'read'], ['DK', 'f32', 'read_write'], ['DV', 'f32', 'read_write']]) + /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let idx = linearGroup(wid, nwg) * 256u + t;
  if (idx >= pu(0u)) { return; }
  let Tk = pu(1u); let H = pu(2u); let Hkv = pu(3u); let D = pu(4u);
  let group = H / Hkv;
  let d = idx % D;
  let kh = (idx / D) % Hkv;
  let j = (idx / (D * Hkv)) % Tk;
  let b = idx / (D * Hkv * Tk);
  var sk = 0.0;
  var sv = 0.0;
  for (var hh = 0u; hh < group; hh++) {
    let p = ((b * H + kh * group + hh) * Tk + j) * D + d;
    sk += PK[p];
    sv += PV[p];
  }
  let o = b * pu(5u) + (j * Hkv + kh) * D + d;
  DK[o] += sk;
  DV[o] += sv;
}`;
