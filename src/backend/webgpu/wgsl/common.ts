/**
 * Pieces every WGSL kernel shares. Each kernel gets its scalar parameters as 64 32-bit words in one
 * uniform block at binding 0 (read as u32, i32 or f32 by bit cast), so the host packs any kernel's
 * arguments the same way and uniform arrays never need WGSL's 16-byte element stride. Storage
 * buffers follow from binding 1 in the order the host passes them.
 */

/** Words in the parameter block (256 bytes, one uniform-offset alignment step). */
export const PARAM_WORDS = 64;

export const header = /* wgsl */ `
struct Params { w: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> P: Params;
fn pu(i: u32) -> u32 { return P.w[i >> 2u][i & 3u]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(pu(i)); }
fn pf(i: u32) -> f32 { return bitcast<f32>(pu(i)); }
// Dispatches over 65535 workgroups are split into a 2-D grid; this is the linear workgroup index.
fn linearGroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }
// Finite stand-in for -infinity where a running maximum starts (shader compilers may assume no inf).
const NEG_BIG: f32 = -3.0e38;
`;

export type Access = 'read' | 'read_write';

/** Storage declarations from binding 1 on: [name, element type, access]. */
export function storage(decls: [string, 'f32' | 'f16' | 'i32' | 'u32', Access][]): string {
  return decls.map(([name, type, access], i) =>
    `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: array<${type}>;`).join('\n');
}

/** WGSL `enable` directives (they must open the module): `f16` for half storage, `subgroups` for subgroup reductions. */
export function enables(f16: boolean, subgroups = false): string {
  return (f16 ? 'enable f16;\n' : '') + (subgroups ? 'enable subgroups;\n' : '');
}

/**
 * Workgroup-wide sum and max over 256 invocations, the value returned to all of them. Call in
 * uniform control flow. Without subgroups: a tree in workgroup memory (9 barriers). With
 * subgroups: each subgroup reduces in registers, then the partials meet in workgroup memory
 * (2 barriers). WGSL does not tie subgroup membership to local_invocation_index, so a partial goes
 * to the slot of its subgroup's lowest invocation (unique), every other invocation writes the
 * identity to its own slot, and each subgroup reads all 256 slots spread over its active lanes.
 */
export function workgroupReduce(subgroups: boolean): string {
  return subgroups ? subgroupReduce : treeReduce;
}

const treeReduce = /* wgsl */ `
var<workgroup> red: array<f32, 256>;
fn wgSum(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wgMax(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
`;

const subgroupReduce = /* wgsl */ `
var<workgroup> red: array<f32, 256>;
fn wgSum(v: f32, t: u32) -> f32 {
  red[t] = select(0.0, subgroupAdd(v), t == subgroupMin(t));
  workgroupBarrier();
  let lanes = subgroupAdd(1u);
  var s = 0.0;
  for (var i = subgroupExclusiveAdd(1u); i < 256u; i += lanes) { s += red[i]; }
  let r = subgroupAdd(s);
  workgroupBarrier();
  return r;
}
fn wgMax(v: f32, t: u32) -> f32 {
  // The identity of a max is any value already in the set: v itself.
  red[t] = select(v, subgroupMax(v), t == subgroupMin(t));
  workgroupBarrier();
  let lanes = subgroupAdd(1u);
  let rank = subgroupExclusiveAdd(1u);
  var m = red[rank];
  for (var i = rank + lanes; i < 256u; i += lanes) { m = max(m, red[i]); }
  let r = subgroupMax(m);
  workgroupBarrier();
  return r;
}
`;

/** Packs a kernel's scalar arguments into the parameter block. */
export class Params {
  readonly words = new Uint32Array(PARAM_WORDS);
  readonly #f32 = new Float32Array(this.words.buffer);
  readonly #i32 = new Int32Array(this.words.buffer);
  #at = 0;
  u32(...vs: number[]): this {
    for (const v of vs) this.words[this.#take()] = v >>> 0;
    return this;
  }
  i32(...vs: number[]): this {
    for (const v of vs) this.#i32[this.#take()] = v;
    return this;
  }
  f32(...vs: number[]): this {
    for (const v of vs) this.#f32[this.#take()] = v;
    return this;
  }
  /** Pads to word `index` (layouts with fixed slots, such as the strided kernels' rank-8 arrays). */
  at(index: number): this {
    if (index < this.#at) throw new Error(`Params.at(${index}): already at word ${this.#at}`);
    this.#at = index;
    return this;
  }
  #take(): number {
    if (this.#at >= PARAM_WORDS) throw new Error(`kernel parameters exceed ${PARAM_WORDS} words`);
    return this.#at++;
  }
}
