/**
 * Tiled matmul: a 16x16 workgroup computes a 64x64 block of C, each invocation a 4x4 micro-tile
 * (rows ly + 16r, columns lx + 16c, so stores are coalesced). K advances in steps of 16 through
 * workgroup memory; tiles are loaded so that neighbouring invocations read neighbouring elements
 * whichever way A and B are stored. The transposes are compiled in (four pipelines); the batch is
 * the grid's z. params: m, n, k, aBatchStride, bBatchStride, aOffset, bOffset, accumulate.
 *
 * `bHalf`: B is stored as f16 (frozen weights on a device with shader-f16). Its elements are
 * widened as the tile is loaded, so workgroup memory and the accumulation stay f32; only the
 * weight traffic halves.
 *
 * `splitK`: where a product has too few tiles to fill the device (decoding: 64 rows, so one row of
 * tiles, and projections a few tiles wide walking K of 896-4864 alone), the grid's z is a slice of
 * K instead of a batch item (params word 8: the slice's length, a multiple of TK), and each slice
 * writes its partial product to its own [m, n] block of C (a scratch buffer); `splitKSumWgsl` then
 * adds the slices in order.
 */
import { enables, header, storage } from './common.js';

export const MATMUL_TILE = 64;
const K_STEP = 16;
/** Workgroups a split product aims for: a few per multiprocessor on a large GPU (132 on an H200). */
export const SPLIT_K_TARGET_GROUPS = 512;
/** The shortest slice of K worth a workgroup of its own. */
export const SPLIT_K_MIN_SLICE = 128;

/**
 * How a product of one batch item is split along K: null where its tiles alone give
 * SPLIT_K_TARGET_GROUPS / 2 workgroups or more, K is under two slices, or the partial products
 * would not fit one binding. Slices are multiples of the kernel's K step; the last may be shorter.
 */
export function splitKPlan(m: number, n: number, k: number, maxBindingBytes: number): { slices: number; sliceK: number } | null {
  const tiles = Math.ceil(m / MATMUL_TILE) * Math.ceil(n / MATMUL_TILE);
  if (tiles === 0 || tiles * 2 >= SPLIT_K_TARGET_GROUPS) return null;
  const wanted = Math.min(Math.ceil(SPLIT_K_TARGET_GROUPS / tiles), Math.floor(k / SPLIT_K_MIN_SLICE),
    Math.floor(maxBindingBytes / (m * n * 4)));
  if (wanted < 2) return null;
  const sliceK = Math.ceil(k / wanted / K_STEP) * K_STEP;
  const slices = Math.ceil(k / sliceK);
  return slices < 2 ? null : { slices, sliceK };
}

export const matmulWgsl = (transA: boolean, transB: boolean, bHalf = false, splitK = false): string => enables(bHalf) + header +
  storage([['A', 'f32', 'read'], ['B', bHalf ? 'f16' : 'f32', 'read'], ['C', 'f32', 'read_write']]) + /* wgsl */ `
const TM = 64u;
const TK = 16u;
var<workgroup> As: array<f32, 1024>; // [TK][TM]
var<workgroup> Bs: array<f32, 1024>; // [TK][TN]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let m = pu(0u); let n = pu(1u); let k = pu(2u);
  ${splitK
    ? 'let batch = 0u; let slice = wid.z; let kBegin = slice * pu(8u); let kEnd = min(k, kBegin + pu(8u));'
    : 'let batch = wid.z; let slice = batch; let kBegin = 0u; let kEnd = k;'}
  let aBase = pu(5u) + batch * pu(3u);
  let bBase = pu(6u) + batch * pu(4u);
  let row0 = wid.y * TM;
  let col0 = wid.x * TM;
  var acc: array<array<f32, 4>, 4>;
  for (var r = 0u; r < 4u; r++) { for (var c = 0u; c < 4u; c++) { acc[r][c] = 0.0; } }
  for (var k0 = kBegin; k0 < kEnd; k0 += TK) {
    for (var l = 0u; l < 4u; l++) {
      let e = tid + l * 256u;
      ${transA ? 'let ap = e / TM; let ai = e % TM;' : 'let ai = e / TK; let ap = e % TK;'}
      let gi = row0 + ai;
      let gp = k0 + ap;
      var av = 0.0;
      if (gi < m && gp < kEnd) { av = A[aBase + ${transA ? 'gp * m + gi' : 'gi * k + gp'}]; }
      As[ap * TM + ai] = av;
      ${transB ? 'let bj = e / TK; let bq = e % TK;' : 'let bq = e / TM; let bj = e % TM;'}
      let gj = col0 + bj;
      let gq = k0 + bq;
      var bv = 0.0;
      if (gj < n && gq < kEnd) { bv = f32(B[bBase + ${transB ? 'gj * k + gq' : 'gq * n + gj'}]); }
      Bs[bq * TM + bj] = bv;
    }
    workgroupBarrier();
    for (var p = 0u; p < TK; p++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var r = 0u; r < 4u; r++) { a[r] = As[p * TM + lid.y + 16u * r]; }
      for (var c = 0u; c < 4u; c++) { b[c] = Bs[p * TM + lid.x + 16u * c]; }
      for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) { acc[r][c] = fma(a[r], b[c], acc[r][c]); }
      }
    }
    workgroupBarrier();
  }
  let accumulate = ${splitK ? 'false' : 'pu(7u) != 0u'};
  for (var r = 0u; r < 4u; r++) {
    let gi = row0 + lid.y + 16u * r;
    if (gi >= m) { continue; }
    for (var c = 0u; c < 4u; c++) {
      let gj = col0 + lid.x + 16u * c;
      if (gj >= n) { continue; }
      let o = (slice * m + gi) * n + gj;
      var v = acc[r][c];
      if (accumulate) { v += C[o]; }
      C[o] = v;
    }
  }
}`;


/**
 * C[i] = (accumulate ? C[i] : 0) + sum over slices s of P[s * mn + i], the slices in order.
 * params: mn, slices, accumulate.
 */
export const splitKSumWgsl = (): string => header +
  storage([['Pt', 'f32', 'read'], ['C', 'f32', 'read_write']]) + /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = linearGroup(wid, nwg) * 256u + t;
  let mn = pu(0u);
  if (i >= mn) { return; }
  var v = 0.0;
  if (pu(2u) != 0u) { v = C[i]; }
  for (var s = 0u; s < pu(1u); s++) { v += Pt[s * mn + i]; }
  C[i] = v;
}`;
