/**
 * Element-wise kernels: fill, unary, the strided family (binary, where, copyStrided) and AdamW.
 * One invocation per element, 256 per workgroup; `idx` is the linear element index over a grid
 * that may be 2-D (see linearGroup).
 */
import type { BinaryOp, UnaryOp } from '../../backend.js';
import { header, storage } from './common.js';

export const ELEMENT_GROUP = 256;
/** Highest rank of the strided kernels (shape and strides travel in fixed uniform slots). */
export const MAX_RANK = 8;

const elementMain = (body: string): string => /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let idx = linearGroup(wid, nwg) * 256u + t;
  if (idx >= pu(0u)) { return; }
${body}
}`;

/** params: n, bits. Writes a bit pattern, so f32 and i32 fills are the same kernel. */
export const fillWgsl = (): string => header + storage([['out', 'u32', 'read_write']]) + elementMain('  out[idx] = pu(1u);');

const unaryExpr: { [K in UnaryOp]: string } = {
  neg: '-x',
  exp: 'exp(x)',
  log: 'log(x)',
  sqrt: 'sqrt(x)',
  rsqrt: '1.0 / sqrt(x)',
  silu: 'x / (1.0 + exp(-x))',
  sigmoid: '1.0 / (1.0 + exp(-x))',
  abs: 'abs(x)',
  sign: 'sign(x)',
  square: 'x * x',
  reciprocal: '1.0 / x',
  siluGrad: '(1.0 / (1.0 + exp(-x))) * (1.0 + x * (1.0 - 1.0 / (1.0 + exp(-x))))',
  affine: 'a * x + b',
  clamp: 'min(max(x, a), b)',
  inRange: 'select(0.0, 1.0, x >= a && x <= b)',
};

/** params: n, a, b. */
export const unaryWgsl = (op: UnaryOp): string => header + storage([['X', 'f32', 'read'], ['Y', 'f32', 'read_write']]) +
  `\nfn f(x: f32, a: f32, b: f32) -> f32 { return ${unaryExpr[op]}; }` +
  elementMain('  Y[idx] = f(X[idx], pf(1u), pf(2u));');

export const siluFns = `\nfn silu(x: f32) -> f32 { return ${unaryExpr.silu}; }\nfn siluGrad(x: f32) -> f32 { return ${unaryExpr.siluGrad}; }`;

/** params: n. Y = silu(G) * U, silu as unary 'silu' computes it. */
export const swigluWgsl = (): string => header + storage([['G', 'f32', 'read'], ['U', 'f32', 'read'], ['Y', 'f32', 'read_write']]) +
  siluFns + elementMain('  Y[idx] = silu(G[idx]) * U[idx];');

/** params: n. DG = D * U * siluGrad(G), DU = D * silu(G) (the backward of swiglu). */
export const swigluBackwardWgsl = (): string => header +
  storage([['G', 'f32', 'read'], ['U', 'f32', 'read'], ['D', 'f32', 'read'], ['DG', 'f32', 'read_write'], ['DU', 'f32', 'read_write']]) +
  siluFns + elementMain('  let g = G[idx];\n  let d = D[idx];\n  DG[idx] = d * U[idx] * siluGrad(g);\n  DU[idx] = d * silu(g);');

const binaryExpr: { [K in BinaryOp]: string } = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  maximum: 'select(b, a, a >= b)',
  minimum: 'select(b, a, a <= b)',
  eq: 'select(0.0, 1.0, a == b)',
  gt: 'select(0.0, 1.0, a > b)',
  ge: 'select(0.0, 1.0, a >= b)',
};

/**
 * Strided addressing. params: 0 n, 1 rank, 2 offset0, 3 offset1, 4.. shape[8], 12.. strides0[8],
 * 20.. strides1[8], 28.. strides2[8]. Returns the element index of up to three operands.
 */
const stridedFn = /* wgsl */ `
fn stridedIndex(idx: u32) -> vec3<i32> {
  var rem = idx;
  var o = vec3<i32>(pi(2u), pi(3u), 0);
  for (var d = i32(pu(1u)) - 1; d >= 0; d--) {
    let du = u32(d);
    let size = pu(4u + du);
    let c = i32(rem % size);
    rem = rem / size;
    o += c * vec3<i32>(pi(12u + du), pi(20u + du), pi(28u + du));
  }
  return o;
}`;

export const binaryWgsl = (op: BinaryOp): string => header +
  storage([['A', 'f32', 'read'], ['B', 'f32', 'read'], ['Y', 'f32', 'read_write']]) + stridedFn +
  `\nfn f(a: f32, b: f32) -> f32 { return ${binaryExpr[op]}; }` +
  elementMain('  let o = stridedIndex(idx);\n  Y[idx] = f(A[o.x], B[o.y]);');

/** cond, a, b read through strides 0, 1, 2 (offset slots left 0). */
export const whereWgsl = (): string => header +
  storage([['C', 'f32', 'read'], ['A', 'f32', 'read'], ['B', 'f32', 'read'], ['Y', 'f32', 'read_write']]) + stridedFn +
  elementMain('  let o = stridedIndex(idx);\n  Y[idx] = select(B[o.z], A[o.y], C[o.x] != 0.0);');

/** src through strides 0 (offset 0), dst through strides 1 (offset 1); a bit copy or an f32 add. */
export const copyStridedWgsl = (accumulate: boolean): string => header +
  storage(accumulate ? [['S', 'f32', 'read'], ['D', 'f32', 'read_write']] : [['S', 'u32', 'read'], ['D', 'u32', 'read_write']]) +
  stridedFn + elementMain(`  let o = stridedIndex(idx);\n  D[o.y] = ${accumulate ? 'D[o.y] + S[o.x]' : 'S[o.x]'};`);

/** params: n, lr, beta1, beta2, eps, weightDecay, bias corrections 1 - beta1^step, 1 - beta2^step. */
export const adamwWgsl = (): string => header +
  storage([['Pm', 'f32', 'read_write'], ['G', 'f32', 'read'], ['M', 'f32', 'read_write'], ['V', 'f32', 'read_write']]) +
  elementMain(`  let lr = pf(1u); let b1 = pf(2u); let b2 = pf(3u);
  let g = G[idx];
  var p = Pm[idx] * (1.0 - lr * pf(5u));
  let m = b1 * M[idx] + (1.0 - b1) * g;
  let v = b2 * V[idx] + (1.0 - b2) * g * g;
  M[idx] = m;
  V[idx] = v;
  p -= (lr * (m / pf(6u))) / (sqrt(v / pf(7u)) + pf(4u));
  Pm[idx] = p;`);
