/**
 * Tiled matmul: a 16x16 workgroup computes a 64x64 block of C, each invocation a 4x4 micro-tile
 * (rows 4ly..4ly+3, columns 4lx..4lx+3). K advances in steps of 16 through workgroup memory, held
 * as vec4s so that each step of the inner loop reads its 4 values of A and of B as one load each
 * (scalar reads took four, and the inner loop was bound by them). Tiles are loaded so that
 * neighbouring invocations read neighbouring elements of A and B whichever way they are stored;
 * a loaded tile's rows are 68 floats apart, not 64, so that invocations writing down a column
 * (A row-major, B transposed) hit distinct banks. The transposes are compiled in (four pipelines); the batch is
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
import { siluFns } from './elementwise.js';

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

/** A loaded tile's row stride in vec4s: 16 (its 64 floats) plus one, against bank conflicts. */
const TILE_ROW_VEC4 = 17;

const tileDecls = /* wgsl */ `
const TM = 64u;
const TK = 16u;
const ROW = ${TILE_ROW_VEC4}u;
var<workgroup> As: array<vec4<f32>, ${16 * TILE_ROW_VEC4}>; // [TK][TM / 4], rows ROW apart
var<workgroup> Bs: array<vec4<f32>, ${16 * TILE_ROW_VEC4}>; // [TK][TN / 4]
`;

/**
 * The K loop of one 64x64 tile, leaving its 4x4 micro-tile in \`acc\` (acc[r][c]: row 4ly + r,
 * column 4lx + c). Expects m, n, k, aBase, bBase, row0, col0, kBegin, kEnd, tid and lid in scope;
 * \`readB(index)\` is the WGSL reading one element of B as f32. Each invocation loads 4 elements of
 * A's tile and 4 of B's into registers; with \`prefetch\`, the next step's are read from memory
 * before the current step is multiplied, so that their latency overlaps the multiply-adds.
 */
const tileLoop = (transA: boolean, transB: boolean, readB: (index: string) => string, prefetch: boolean): string => {
  const aIndex = transA ? 'let ap = e / TM; let ai = e % TM;' : 'let ai = e / TK; let ap = e % TK;';
  const bIndex = transB ? 'let bj = e / TK; let bq = e % TK;' : 'let bq = e / TM; let bj = e % TM;';
  const fetch = (kStart: string): string => /* wgsl */ `
    for (var l = 0u; l < 4u; l++) {
      let e = tid + l * 256u;
      ${aIndex}
      let gi = row0 + ai;
      let gp = ${kStart} + ap;
      var av = 0.0;
      if (gi < m && gp < kEnd) { av = A[aBase + ${transA ? 'gp * m + gi' : 'gi * k + gp'}]; }
      pa[l] = av;
      ${bIndex}
      let gj = col0 + bj;
      let gq = ${kStart} + bq;
      var bv = 0.0;
      if (gj < n && gq < kEnd) { bv = ${readB(`bBase + ${transB ? 'gj * k + gq' : 'gq * n + gj'}`)}; }
      pb[l] = bv;
    }`;
  return /* wgsl */ `
  var acc: array<vec4<f32>, 4>;
  for (var r = 0u; r < 4u; r++) { acc[r] = vec4<f32>(0.0); }
  var pa: array<f32, 4>;
  var pb: array<f32, 4>;
  ${prefetch ? fetch('kBegin') : ''}
  for (var k0 = kBegin; k0 < kEnd; k0 += TK) {${prefetch ? '' : fetch('k0')}
    for (var l = 0u; l < 4u; l++) {
      let e = tid + l * 256u;
      ${aIndex}
      As[ap * ROW + ai / 4u][ai % 4u] = pa[l];
      ${bIndex}
      Bs[bq * ROW + bj / 4u][bj % 4u] = pb[l];
    }
    workgroupBarrier();${prefetch ? `
    if (k0 + TK < kEnd) {${fetch('k0 + TK')}
    }` : ''}
    for (var p = 0u; p < TK; p++) {
      let a = As[p * ROW + lid.y];
      let b = Bs[p * ROW + lid.x];
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
    workgroupBarrier();
  }`;
};

/** The tile's elements inside [m, n], each as (gi, gj) with its value in acc[r][c]: \`store\` writes it. */
const tileStore = (store: string): string => /* wgsl */ `
  for (var r = 0u; r < 4u; r++) {
    let gi = row0 + 4u * lid.y + r;
    if (gi >= m) { continue; }
    for (var c = 0u; c < 4u; c++) {
      let gj = col0 + 4u * lid.x + c;
      if (gj >= n) { continue; }
${store}
    }
  }`;

export const matmulWgsl = (transA: boolean, transB: boolean, bHalf = false, splitK = false, prefetch = true): string => enables(bHalf) + header +
  storage([['A', 'f32', 'read'], ['B', bHalf ? 'f16' : 'f32', 'read'], ['C', 'f32', 'read_write']]) + tileDecls + /* wgsl */ `
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
${tileLoop(transA, transB, (i) => `f32(B[${i}])`, prefetch)}
  let accumulate = ${splitK ? 'false' : 'pu(7u) != 0u'};
${tileStore(`      let o = (slice * m + gi) * n + gj;
      var v = acc[r][c];
      if (accumulate) { v += C[o]; }
      C[o] = v;`)}
}`;

/**
 * Decoding's projections of one input (Backend.linearGroup: q, k and v; gate and up; o or down),
 * x [m, k] times up to three weights W_w [n_w, k] (HF's [out, in]), in one dispatch: the grid's x
 * walks the column tiles of W_0, then W_1, then W_2 (params 3, 4: where W_1's and W_2's tiles
 * start), z the slices of K (param 2: a slice's length). Each slice writes its partial products to
 * PART [slice][m][n_0 + n_1 + n_2], weight w's columns at n_0 + ... + n_(w-1);
 * linearEpilogueWgsl sums the slices. params: m, k, sliceK, tiles0, tiles01, n0, n1, n2.
 */
export const linearGroupMatmulWgsl = (bHalf: boolean, prefetch = true): string => enables(bHalf) + header +
  storage([['A', 'f32', 'read'], ['B0', bHalf ? 'f16' : 'f32', 'read'], ['B1', bHalf ? 'f16' : 'f32', 'read'],
    ['B2', bHalf ? 'f16' : 'f32', 'read'], ['PART', 'f32', 'read_write']]) + tileDecls + /* wgsl */ `
fn readB(w: u32, i: u32) -> f32 {
  if (w == 0u) { return f32(B0[i]); }
  if (w == 1u) { return f32(B1[i]); }
  return f32(B2[i]);
}
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let m = pu(0u); let k = pu(1u);
  let kBegin = wid.z * pu(2u);
  let kEnd = min(k, kBegin + pu(2u));
  let t0 = pu(3u); let t01 = pu(4u);
  let n0 = pu(5u); let n1 = pu(6u); let n2 = pu(7u);
  let total = n0 + n1 + n2;
  var w = 0u; var tile = wid.x; var n = n0; var off = 0u;
  if (wid.x >= t01) { w = 2u; tile = wid.x - t01; n = n2; off = n0 + n1; }
  else if (wid.x >= t0) { w = 1u; tile = wid.x - t0; n = n1; off = n0; }
  let aBase = 0u; let bBase = 0u;
  let row0 = wid.y * TM;
  let col0 = tile * TM;
${tileLoop(false, true, (i) => `readB(w, ${i})`, prefetch)}
${tileStore('      PART[(wid.z * m + gi) * total + off + gj] = acc[r][c];')}
}`;

/**
 * linearGroup's epilogue over linearGroupMatmulWgsl's partials: per output element, the slices
 * summed in order, then weight w's bias added (param 6 + w: 1 where it has one), then
 * 'none': O_w = that, or, with a residual (one weight), O_0 = RES + that;
 * 'swiglu': O_0 = silu(gate) * up, gate from W_0's columns and up from W_1's.
 * One invocation per output element. params: m, slices, n0, n1, n2, residual, hasBias0..2.
 * Bindings: linearEpilogueBindings (swiglu has no residual and one output).
 */
export const linearEpilogueBindings = (swiglu: boolean): string[] =>
  swiglu ? ['PART', 'BIAS0', 'BIAS1', 'BIAS2', 'O0'] : ['PART', 'BIAS0', 'BIAS1', 'BIAS2', 'RES', 'O0', 'O1', 'O2'];

export const linearEpilogueWgsl = (swiglu: boolean): string => header +
  storage(linearEpilogueBindings(swiglu).map((name) => [name, 'f32', name.startsWith('O') ? 'read_write' : 'read'])) +
  (swiglu ? siluFns : '') + /* wgsl */ `
fn summed(i: u32, col: u32) -> f32 {
  let m = pu(0u);
  let total = pu(2u) + pu(3u) + pu(4u);
  var v = 0.0;
  for (var s = 0u; s < pu(1u); s++) { v += PART[(s * m + i) * total + col]; }
  return v;
}
fn bias(w: u32, j: u32) -> f32 {
  if (pu(6u + w) == 0u) { return 0.0; }
  if (w == 0u) { return BIAS0[j]; }
  if (w == 1u) { return BIAS1[j]; }
  return BIAS2[j];
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let idx = linearGroup(wid, nwg) * 256u + t;
  let m = pu(0u);
  let n0 = pu(2u); let n1 = pu(3u); let n2 = pu(4u);
${swiglu ? `  if (idx >= m * n0) { return; }
  let i = idx / n0; let j = idx % n0;
  let gate = summed(i, j) + bias(0u, j);
  let up = summed(i, n0 + j) + bias(1u, j);
  O0[idx] = silu(gate) * up;` : `  let total = n0 + n1 + n2;
  if (idx >= m * total) { return; }
  let i = idx / total; let col = idx % total;
  if (col < n0) {
    var v = summed(i, col) + bias(0u, col);
    if (pu(5u) != 0u) { v = RES[i * n0 + col] + v; }
    O0[i * n0 + col] = v;
  } else if (col < n0 + n1) {
    let j = col - n0;
    O1[i * n1 + j] = summed(i, col) + bias(1u, j);
  } else {
    let j = col - n0 - n1;
    O2[i * n2 + j] = summed(i, col) + bias(2u, j);
  }`}
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
