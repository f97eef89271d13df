/**
 * Row kernels: one 256-invocation workgroup per row reduces across the row in workgroup memory
 * (softmax, log-softmax, RMSNorm, log-prob/entropy and the inner=1 reduction); the rest are one
 * invocation per element or per column. Row loops stride by 256 so any row length works. The row
 * kernels take `sub`: reduce with subgroup operations (the device has `subgroups`) instead of the
 * workgroup-memory tree; the variant is chosen when the pipeline is made.
 */
import { enables, header, storage, workgroupReduce } from './common.js';

const rowMain = (body: string): string => /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = linearGroup(wid, nwg);
  if (row >= pu(0u)) { return; }
  let cols = pu(1u);
  let base = row * cols;
${body}
}`;

const threadMain = (body: string): string => /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let idx = linearGroup(wid, nwg) * 256u + t;
${body}
}`;

/** Row max then log-sum-exp of X[base..base+cols) * scale; leaves `lse` in scope. */
const rowLse = (scale: string): string => `
  var mx = NEG_BIG;
  for (var c = t; c < cols; c += 256u) { mx = max(mx, X[base + c] * ${scale}); }
  mx = wgMax(mx, t);
  var s = 0.0;
  for (var c = t; c < cols; c += 256u) { s += exp(X[base + c] * ${scale} - mx); }
  s = wgSum(s, t);
  let lse = mx + log(s);`;

/** params: rows, cols. Softmax (log = false) or log-softmax of each row. */
export const softmaxWgsl = (log: boolean, sub = false): string => enables(false, sub) + header + storage([['X', 'f32', 'read'], ['Y', 'f32', 'read_write']]) +
  workgroupReduce(sub) + rowMain(`${rowLse('1.0')}
  for (var c = t; c < cols; c += 256u) { Y[base + c] = ${log ? 'X[base + c] - lse' : 'exp(X[base + c] - lse)'}; }`);

/** params: rows, cols. dx = y * (dy - sum(dy*y)) or, for log-softmax, dy - exp(y) * sum(dy). */
export const softmaxBackwardWgsl = (log: boolean, sub = false): string => enables(false, sub) + header +
  storage([['Yv', 'f32', 'read'], ['DY', 'f32', 'read'], ['DX', 'f32', 'read_write']]) + workgroupReduce(sub) + rowMain(`
  var s = 0.0;
  for (var c = t; c < cols; c += 256u) { s += ${log ? 'DY[base + c]' : 'DY[base + c] * Yv[base + c]'}; }
  s = wgSum(s, t);
  for (var c = t; c < cols; c += 256u) {
    let i = base + c;
    DX[i] = ${log ? 'DY[i] - exp(Yv[i]) * s' : 'Yv[i] * (DY[i] - s)'};
  }`);

/**
 * Row sums or maxes, a workgroup per (row, chunk of chunkLen columns), the chunk's result to
 * Y[row * chunks + chunk]. With chunks = 1 and chunkLen = len, a workgroup reduces each row whole;
 * few long rows (a gradient's sum of squares, one row of 136M elements for Qwen2.5-0.5B's
 * embedding) are reduced in chunks, then each row's chunks by this kernel again.
 * params: outer (rows), len, chunks, -infinity, chunkLen.
 */
export const reduceRowWgsl = (op: 'sum' | 'max', sub = false): string => enables(false, sub) + header +
  storage([['X', 'f32', 'read'], ['Y', 'f32', 'read_write']]) + workgroupReduce(sub) + /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let g = linearGroup(wid, nwg);
  let chunks = pu(2u);
  if (g >= pu(0u) * chunks) { return; }
  let cols = pu(1u);
  let row = g / chunks;
  let c0 = (g % chunks) * pu(4u);
  let c1 = min(cols, c0 + pu(4u));
  let base = row * cols;
${op === 'sum' ? `  var s = 0.0;
  for (var c = c0 + t; c < c1; c += 256u) { s += X[base + c]; }
  s = wgSum(s, t);
  if (t == 0u) { Y[g] = s; }` : `  // Starts at -infinity (param 3, a runtime value: WGSL rejects an infinite constant) so an empty
  // row gives -inf like the reference.
  var m = pf(3u);
  for (var c = c0 + t; c < c1; c += 256u) { m = max(m, X[base + c]); }
  m = wgMax(m, t);
  if (t == 0u) { Y[g] = m; }`}
}`;

/** How reduceRowWgsl splits rows into chunks: null where a workgroup per row is enough (many rows, or short ones). */
export function reduceRowChunks(outer: number, len: number): { chunks: number; chunkLen: number } | null {
  const wanted = Math.min(Math.ceil(len / 8192), Math.ceil(2048 / Math.max(1, outer)));
  if (wanted < 2) return null;
  const chunkLen = Math.ceil(len / wanted);
  return { chunks: Math.ceil(len / chunkLen), chunkLen };
}

/** params: outer, len, inner, -infinity. One invocation per output, looping over the reduced axis. */
export const reduceStridedWgsl = (op: 'sum' | 'max'): string => header + storage([['X', 'f32', 'read'], ['Y', 'f32', 'read_write']]) +
  threadMain(`
  let outer = pu(0u); let len = pu(1u); let inner = pu(2u);
  if (idx >= outer * inner) { return; }
  let o = idx / inner;
  let i = idx % inner;
  var acc = ${op === 'sum' ? '0.0' : 'pf(3u)'};
  for (var l = 0u; l < len; l++) {
    let v = X[(o * len + l) * inner + i];
    acc = ${op === 'sum' ? 'acc + v' : 'max(acc, v)'};
  }
  Y[idx] = acc;`);

/** params: rows, dim, eps. */
export const rmsnormWgsl = (sub = false): string => enables(false, sub) + header +
  storage([['X', 'f32', 'read'], ['W', 'f32', 'read'], ['Y', 'f32', 'read_write'], ['R', 'f32', 'read_write']]) +
  workgroupReduce(sub) + rowMain(`
  var s = 0.0;
  for (var c = t; c < cols; c += 256u) { let x = X[base + c]; s += x * x; }
  s = wgSum(s, t);
  let inv = 1.0 / sqrt(s / f32(cols) + pf(2u));
  if (t == 0u) { R[row] = inv; }
  for (var c = t; c < cols; c += 256u) { Y[base + c] = X[base + c] * inv * W[c]; }`);

/** params: rows, dim. dx = inv*dy*w - x * inv^3 * mean(dy*w*x), per row. */
export const rmsnormDxWgsl = (sub = false): string => enables(false, sub) + header +
  storage([['DY', 'f32', 'read'], ['X', 'f32', 'read'], ['W', 'f32', 'read'], ['R', 'f32', 'read'], ['DX', 'f32', 'read_write']]) +
  workgroupReduce(sub) + rowMain(`
  let inv = R[row];
  var s = 0.0;
  for (var c = t; c < cols; c += 256u) { s += DY[base + c] * W[c] * X[base + c]; }
  s = wgSum(s, t);
  let coef = inv * inv * inv * s / f32(cols);
  for (var c = t; c < cols; c += 256u) { let i = base + c; DX[i] = inv * DY[i] * W[c] - X[i] * coef; }`);

/** params: rows, dim. dw[c] += sum over rows of dy*x*rstd: one invocation per column, no races. */
/**
 * dW of RMSNorm, a sum over rows per column, in blocks of rows so that a long batch (thousands of
 * tokens, a few hundred columns) still fills the device: the grid is (column groups, row blocks).
 * params: rows, dim, rowsPerBlock, direct. direct: one block, added into DW; otherwise each block
 * writes its column sums to PART[block * dim + column] (then summed into DW by splitKSumWgsl).
 */
export const rmsnormDwWgsl = (): string => header +
  storage([['DY', 'f32', 'read'], ['X', 'f32', 'read'], ['R', 'f32', 'read'], ['DW', 'f32', 'read_write'], ['PART', 'f32', 'read_write']]) + /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let rows = pu(0u); let dim = pu(1u); let per = pu(2u);
  let idx = wid.x * 256u + t;
  if (idx >= dim) { return; }
  let r0 = wid.y * per;
  let r1 = min(rows, r0 + per);
  var acc = 0.0;
  for (var r = r0; r < r1; r++) { let i = r * dim + idx; acc += DY[i] * X[i] * R[r]; }
  if (pu(3u) != 0u) { DW[idx] += acc; } else { PART[wid.y * dim + idx] = acc; }
}`;

/** Row blocks for rmsnormDwWgsl: about 512 workgroups in all, at least 64 rows a block. */
export function rmsnormDwBlocks(rows: number, dim: number): { blocks: number; rowsPerBlock: number } {
  const columnGroups = Math.max(1, Math.ceil(dim / 256));
  const wanted = Math.max(1, Math.min(Math.ceil(512 / columnGroups), Math.ceil(rows / 64)));
  const rowsPerBlock = Math.max(1, Math.ceil(rows / wanted));
  return { blocks: Math.max(1, Math.ceil(rows / rowsPerBlock)), rowsPerBlock };
}

/** params: rows, vocab, invTemperature. logp, entropy and lse per row in one pass over the logits. */
export const logprobEntropyWgsl = (sub = false): string => enables(false, sub) + header +
  storage([['X', 'f32', 'read'], ['IDS', 'i32', 'read'], ['LP', 'f32', 'read_write'], ['ENT', 'f32', 'read_write'], ['LSE', 'f32', 'read_write']]) +
  workgroupReduce(sub) + rowMain(`
  let it = pf(2u);
  var mx = NEG_BIG;
  for (var c = t; c < cols; c += 256u) { mx = max(mx, X[base + c] * it); }
  mx = wgMax(mx, t);
  var s = 0.0;
  var sz = 0.0;
  for (var c = t; c < cols; c += 256u) {
    let z = X[base + c] * it;
    let e = exp(z - mx);
    s += e;
    sz += e * z;
  }
  s = wgSum(s, t);
  sz = wgSum(sz, t);
  if (t == 0u) {
    let lse = mx + log(s);
    // Ids outside the vocabulary cannot throw on the device; they read logit 0.
    let id = u32(IDS[row]);
    var zid = 0.0;
    if (id < cols) { zid = X[base + id] * it; }
    LSE[row] = lse;
    LP[row] = zid - lse;
    ENT[row] = lse - sz / s;
  }`);

/** params: rows, vocab, invTemperature. One invocation per logit. */
export const logprobEntropyBackwardWgsl = (): string => header +
  storage([['X', 'f32', 'read'], ['IDS', 'i32', 'read'], ['LSE', 'f32', 'read'], ['ENT', 'f32', 'read'],
    ['DLP', 'f32', 'read'], ['DENT', 'f32', 'read'], ['DX', 'f32', 'read_write']]) + threadMain(`
  let rows = pu(0u); let vocab = pu(1u); let it = pf(2u);
  if (idx >= rows * vocab) { return; }
  let r = idx / vocab;
  let c = idx % vocab;
  let logP = X[idx] * it - LSE[r];
  let p = exp(logP);
  let hit = select(0.0, 1.0, i32(c) == IDS[r]);
  DX[idx] = (DLP[r] * (hit - p) - DENT[r] * p * (logP + ENT[r])) * it;`);
