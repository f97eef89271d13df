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
 */
import { enables, header, storage } from './common.js';

export const MATMUL_TILE = 64;

export const matmulWgsl = (transA: boolean, transB: boolean, bHalf = false): string => enables(bHalf) + header +
  storage([['A', 'f32', 'read'], ['B', bHalf ? 'f16' : 'f32', 'read'], ['C', 'f32', 'read_write']]) + /* wgsl */ `
const TM = 64u;
const TK = 16u;
var<workgroup> As: array<f32, 1024>; // [TK][TM]
var<workgroup> Bs: array<f32, 1024>; // [TK][TN]
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let m = pu(0u); let n = pu(1u); let k = pu(2u);
  let batch = wid.z;
  let aBase = pu(5u) + batch * pu(3u);
  let bBase = pu(6u) + batch * pu(4u);
  let row0 = wid.y * TM;
  let col0 = wid.x * TM;
  var acc: array<array<f32, 4>, 4>;
  for (var r = 0u; r < 4u; r++) { for (var c = 0u; c < 4u; c++) { acc[r][c] = 0.0; } }
  for (var k0 = 0u; k0 < k; k0 += TK) {
    for (var l = 0u; l < 4u; l++) {
      let e = tid + l * 256u;
      ${transA ? 'let ap = e / TM; let ai = e % TM;' : 'let ai = e / TK; let ap = e % TK;'}
      let gi = row0 + ai;
      let gp = k0 + ap;
      var av = 0.0;
      if (gi < m && gp < k) { av = A[aBase + ${transA ? 'gp * m + gi' : 'gi * k + gp'}]; }
      As[ap * TM + ai] = av;
      ${transB ? 'let bj = e / TK; let bq = e % TK;' : 'let bq = e / TM; let bj = e % TM;'}
      let gj = col0 + bj;
      let gq = k0 + bq;
      var bv = 0.0;
      if (gj < n && gq < k) { bv = f32(B[bBase + ${transB ? 'gj * k + gq' : 'gq * n + gj'}]); }
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
  let accumulate = pu(7u) != 0u;
  for (var r = 0u; r < 4u; r++) {
    let gi = row0 + lid.y + 16u * r;
    if (gi >= m) { continue; }
    for (var c = 0u; c < 4u; c++) {
      let gj = col0 + lid.x + 16u * c;
      if (gj >= n) { continue; }
      let o = (batch * m + gi) * n + gj;
      var v = acc[r][c];
      if (accumulate) { v += C[o]; }
      C[o] = v;
    }
  }
}`;
