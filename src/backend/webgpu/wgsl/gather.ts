/** Embedding gather and scatter-add, and rotary embedding. */
import { enables, header, storage } from './common.js';

const threadMain = (body: string): string => /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let idx = linearGroup(wid, nwg) * 256u + t;
${body}
}`;

/**
 * params: rows, dim, vocab. One invocation per output element; an id outside the table reads 0.
 * `half`: the table is stored as f16 (a frozen model's), widened on the read.
 */
export const embeddingWgsl = (half = false): string => enables(half) + header +
  storage([['TBL', half ? 'f16' : 'f32', 'read'], ['IDS', 'i32', 'read'], ['Y', 'f32', 'read_write']]) + threadMain(`
  let rows = pu(0u); let dim = pu(1u);
  if (idx >= rows * dim) { return; }
  let id = u32(IDS[idx / dim]);
  var v = 0.0;
  if (id < pu(2u)) { v = f32(TBL[id * dim + idx % dim]); }
  Y[idx] = v;`);

/**
 * params: rows, dim, vocab. dTable[ids[r], c] += dOut[r, c] with one invocation per column walking
 * the rows in order: repeated ids add up without float atomics, and the sum order is the reference's.
 */
export const embeddingBackwardWgsl = (): string => header +
  storage([['DY', 'f32', 'read'], ['IDS', 'i32', 'read'], ['DT', 'f32', 'read_write']]) + threadMain(`
  let rows = pu(0u); let dim = pu(1u);
  if (idx >= dim) { return; }
  for (var r = 0u; r < rows; r++) {
    let id = u32(IDS[r]);
    if (id < pu(2u)) { DT[id * dim + idx] += DY[r * dim + idx]; }
  }`);

/** params: rows, H, D, sign (+1 forward, -1 inverse). One invocation per rotated pair. */
export const ropeWgsl = (): string => header +
  storage([['X', 'f32', 'read'], ['POS', 'i32', 'read'], ['COS', 'f32', 'read'], ['SIN', 'f32', 'read'], ['Y', 'f32', 'read_write']]) +
  threadMain(`
  let rows = pu(0u); let H = pu(1u); let D = pu(2u);
  let half = D / 2u;
  if (idx >= rows * H * half) { return; }
  let j = idx % half;
  let rh = idx / half;
  let r = rh / H;
  let base = rh * D;
  let tab = u32(POS[r]) * half + j;
  let c = COS[tab];
  let s = SIN[tab] * pf(3u);
  let x1 = X[base + j];
  let x2 = X[base + j + half];
  Y[base + j] = x1 * c - x2 * s;
  Y[base + j + half] = x2 * c + x1 * s;`);

/**
 * ropeKvWrite's keys and values (the queries go through ropeWgsl): K [rows, Hkv, D] rotated as
 * ropeWgsl does, and V copied, into the caches KC, VC [B, maxLen, Hkv, D] at positions
 * pastLen..pastLen+T of their batch item, in one dispatch where rope, a temporary and two strided
 * copies took four. params: rows (B*T), T, Hkv, D, pastLen, maxLen. One invocation per rotated
 * pair of a key head and per pair of a value head.
 */
export const ropeKvCacheWgsl = (): string => header +
  storage([['K', 'f32', 'read'], ['V', 'f32', 'read'], ['POS', 'i32', 'read'], ['COS', 'f32', 'read'], ['SIN', 'f32', 'read'],
    ['KC', 'f32', 'read_write'], ['VC', 'f32', 'read_write']]) + threadMain(`
  let rows = pu(0u); let T = pu(1u); let Hkv = pu(2u); let D = pu(3u);
  let half = D / 2u;
  if (idx >= rows * 2u * Hkv * half) { return; }
  let j = idx % half;
  let slot = (idx / half) % (2u * Hkv);
  let r = idx / (half * 2u * Hkv);
  let kh = slot % Hkv;
  let src = (r * Hkv + kh) * D;
  let dst = (((r / T) * pu(5u) + pu(4u) + r % T) * Hkv + kh) * D;
  if (slot < Hkv) {
    let tab = u32(POS[r]) * half + j;
    let c = COS[tab];
    let s = SIN[tab];
    let x1 = K[src + j];
    let x2 = K[src + j + half];
    KC[dst + j] = x1 * c - x2 * s;
    KC[dst + j + half] = x2 * c + x1 * s;
  } else {
    VC[dst + j] = V[src + j];
    VC[dst + j + half] = V[src + j + half];
  }`);
