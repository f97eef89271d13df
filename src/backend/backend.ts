/**
 * The contract between the tensor layer and a device. A backend owns its buffers (opaque handles),
 * runs kernels on them in call order, and reads them back asynchronously (synchronously too where
 * the device allows it, as the CPU does). Backends never see tensors, views or gradients: the
 * tensor layer turns views into explicit strided layouts and allocates every output before it calls
 * a kernel. Kernels never allocate.
 *
 * Units: every size, offset and stride below counts elements, not bytes. Elements are 4 bytes
 * (f32, or i32 for token ids and positions), except f16 buffers (2 bytes), which exist only on
 * backends with `halfStorage` and only as read-only weights: matmul's B operand and the embedding
 * table. Unless a parameter says otherwise, a buffer argument is read or written densely from
 * element 0 (row-major, last axis fastest).
 *
 * The same interface is implemented by:
 * - `ReferenceBackend` (src/backend/reference): plain TypeScript loops, the definition of each
 *   kernel, used by the tests to check the others;
 * - `CpuBackend` (src/backend/cpu): WebAssembly SIMD kernels over one shared memory, with a
 *   worker-thread pool for the heavy kernels;
 * - `WebGpuBackend` (src/backend/webgpu): WGSL compute shaders, where `read` is the only host round-trip.
 */

/** 'f16': half-precision weights, see `Backend.halfStorage`; every other kernel input is f32 or i32. */
export type DType = 'f32' | 'i32' | 'f16';

/** An allocation owned by a backend. Only the backend that made it may use it. */
export interface DeviceBuffer {
  /** Size in bytes (at least what was asked for). */
  readonly byteLength: number;
  /** True once `free` was called; any further use is an error. */
  readonly freed: boolean;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'silu' | 'sigmoid' | 'abs' | 'sign' | 'square' | 'reciprocal'
  /** d silu(x) / dx = s(x) * (1 + x * (1 - s(x))), s = sigmoid */
  | 'siluGrad'
  /** a * x + b */
  | 'affine'
  /** min(max(x, a), b) */
  | 'clamp'
  /** 1 where a <= x <= b, else 0 (the gradient mask of clamp) */
  | 'inRange';

/** Element-wise binary ops. Comparisons return 1 or 0 as f32. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'eq' | 'gt' | 'ge';

export type ReduceOp = 'sum' | 'max';

/**
 * One operand of a strided kernel (copyStrided, binary, where): element i of the op's shape is
 * `buf[offset + sum(i * strides)]`, with stride 0 on a broadcast axis.
 */
export interface StridedView {
  buf: DeviceBuffer;
  /** Element offset of index 0 within `buf`. */
  offset: number;
  /** One stride per axis of the op's shape, in elements. */
  strides: number[];
}

/** One AdamW step's size and hyperparameters (PyTorch names, camelCased). */
export interface AdamWArgs {
  /** Number of elements of each of param, grad, m and v. */
  n: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for the bias corrections. */
  step: number;
}

export interface MatmulArgs {
  /** Number of independent products. */
  batch: number;
  m: number;
  n: number;
  k: number;
  /** A holds op(A) = A^T: each batch item is stored as [k, m] instead of [m, k]. */
  transA: boolean;
  /** B holds op(B) = B^T: each batch item is stored as [n, k] instead of [k, n]. */
  transB: boolean;
  /** Element distance between consecutive batch items of A; 0 broadcasts one matrix. */
  aBatchStride: number;
  /** Element distance between consecutive batch items of B; 0 broadcasts one matrix. */
  bBatchStride: number;
  /** Element offsets of A and B within their buffers (default 0). */
  aOffset?: number;
  bOffset?: number;
  /** Add into `out` instead of overwriting it. */
  accumulate: boolean;
  /** B is an f16 buffer (only on backends with `halfStorage`); A and out are always f32. */
  bDtype?: 'f32' | 'f16';
}

/**
 * Fused causal attention with grouped KV heads.
 * q, out: [B, Tq, H, D]; k, v: [B, *, Hkv, D] where the time axis of k/v is `kvBatchStride / (Hkv*D)`
 * long (a KV cache may be longer than the `Tk` positions in use). H must be a multiple of Hkv; query
 * head h reads kv head floor(h / (H / Hkv)) (HF repeat_kv order).
 * Query i sits at absolute position `pastLen + i` and attends to keys j <= pastLen + i (causal) among
 * the first Tk = pastLen + Tq keys. An optional additive bias `keyBias` [B, Tk] (0 or a large negative
 * value) masks padded keys. An optional `keyStart` [B, Tq] (i32) moves each query's first key: query i
 * then attends to keys keyStart[b, i] <= j <= pastLen + i, which is block-diagonal causal attention on
 * sequences packed into one row (keyStart = where the query's own sequence begins, flash-attention's
 * variable-length form); kernels skip the keys before it, so packed work grows with the sum of the
 * squared sequence lengths, not the square of their total.
 */
export interface AttentionArgs {
  B: number;
  Tq: number;
  H: number;
  Hkv: number;
  D: number;
  pastLen: number;
  /** Element distance between batch items in k and v (= Tmax * Hkv * D for a cache of Tmax slots). */
  kvBatchStride: number;
  /** Softmax scale, usually 1/sqrt(D). */
  scale: number;
  /**
   * First key of each query, i32 [B, Tq], each within 0 <= keyStart[b, i] <= pastLen + i (so a query
   * always sees itself); absent or null: 0 (plain causal attention).
   */
  keyStart?: DeviceBuffer | null;
}

/**
 * One sampling step's settings (see `Backend.sample`). veRL's names; temperature 0 is greedy.
 */
export interface SampleArgs {
  /** 0 selects the arg-max token; otherwise the logits are divided by it. */
  temperature: number;
  /** Keep only the topK highest-ranked tokens; 0 or -1 (or >= vocab) keeps all. */
  topK: number;
  /** Keep the shortest rank prefix whose mass reaches topP of the top-k mass; 1 keeps all. */
  topP: number;
}

/**
 * Several projections of one input in one call (decoding's q/k/v, gate/up): for each weight
 * W_w [n_w, k] (HF Linear layout, stored dense) y_w = x @ W_w^T + bias_w, x [m, k] dense. The
 * results equal, bit for bit, what the backend's own matmul (transB), binary add, unary silu and
 * binary mul give when run one after another, as the tensor layer would run them: the fusion saves
 * calls, never changes numbers.
 */
export interface LinearGroupArgs {
  m: number;
  k: number;
  /** Output width n_w of each weight. */
  n: number[];
  /** Each weight's dtype (f16 only on backends with `halfStorage`). */
  wDtype: ('f32' | 'f16')[];
  /**
   * 'none': outs[w] = y_w, plus `residual` [m, n_0] when one is given (one weight only: the
   * residual add after o_proj or down_proj, residual + y in f32).
   * 'swiglu': two weights (gate, up) of equal width and one output, silu(y_0) * y_1 with
   * silu(v) = v * sigmoid(v).
   */
  epilogue: 'none' | 'swiglu';
}

/**
 * Decoding's rotary embedding and KV-cache write in one call, equal bit for bit to `rope` on q and
 * k followed by copies of the rotated k and of v into the caches: q [B*T, H, D] is rotated into
 * qOut [B*T, H, D]; k, v [B*T, Hkv, D] go to kCache, vCache [B, maxLen, Hkv, D] at positions
 * [pastLen, pastLen + T) of each batch item, k rotated.
 */
export interface RopeKvWriteArgs {
  B: number;
  T: number;
  H: number;
  Hkv: number;
  D: number;
  pastLen: number;
  maxLen: number;
}

export interface MemoryStats {
  /** Bytes held by live (not freed) buffers. */
  bytesInUse: number;
  /** Highest bytesInUse seen since the backend started or `resetPeak` was called. */
  peakBytesInUse: number;
  /** Bytes the backend has reserved from the system (wasm memory size, device heap). */
  bytesReserved: number;
  /** Number of live buffers. */
  liveBuffers: number;
}

export interface Backend {
  readonly name: string;
  /** Most bytes the backend can hold at once (the CPU backend's 4 GiB WebAssembly memory); undefined when unknown. */
  readonly capacityBytes?: number;
  /**
   * True where f16 buffers exist (the CPU backend; WebGPU on a device with `shader-f16`): allocated as 2 bytes per
   * element, written from f16 bits (Uint16Array), read back widened to f32, and accepted by
   * matmul (B) and embedding (the table).
   */
  readonly halfStorage?: boolean;
  /** The dtype frozen weights (models loaded with `frozen`) are stored in; f32 when absent. */
  readonly weightDtype?: 'f32' | 'f16';

  // --- memory -------------------------------------------------------------------------------
  alloc(byteLength: number): DeviceBuffer;
  free(buf: DeviceBuffer): void;
  /**
   * Copies host data into `buf` starting at element `offset`. A Uint16Array holds f16 bits for an
   * f16 buffer (backends with `halfStorage` only; its offset counts 2-byte elements and must be
   * even, and an odd count also zeroes the element after the last: devices write 4-byte words).
   */
  write(buf: DeviceBuffer, data: Float32Array | Int32Array | Uint16Array, offset?: number): void;
  /**
   * Reads `length` elements from element `offset`, after every kernel queued before it has run.
   * An f16 buffer reads back widened to a Float32Array.
   */
  read(buf: DeviceBuffer, dtype: DType, offset: number, length: number): Promise<Float32Array | Int32Array>;
  /** Synchronous read, where the device allows it (CPU backends); undefined otherwise. */
  readSync?(buf: DeviceBuffer, dtype: DType, offset: number, length: number): Float32Array | Int32Array;
  memoryStats(): MemoryStats;
  resetPeak(): void;
  /**
   * Returns the memory of freed buffers kept for reuse to the system, where the backend keeps
   * such a pool (WebGPU). The trainer calls it between a step's phases, whose buffer sizes differ:
   * without it the device holds every phase's buffers at once.
   */
  trimPool?(): void;
  /** Releases every resource (worker threads, device). The backend is unusable afterwards. */
  destroy(): void;

  // --- data movement ---------------------------------------------------------------------------
  /** out[0..n) = value (f32 bits, or an integer for i32 buffers). */
  fill(out: DeviceBuffer, n: number, value: number, dtype: DType): void;
  /**
   * Strided copy of a view: for every index i over `shape`, dst[i] (+)= src[i], both read through their
   * views. Works for f32 and i32 alike when `accumulate` is false (a bit copy); accumulate is f32 only.
   */
  copyStrided(src: StridedView, dst: StridedView, shape: number[], accumulate: boolean): void;

  // --- element-wise ----------------------------------------------------------------------------
  /** out[i] = op(x[i]) for i < n; `a`, `b` are the op's scalar parameters (see UnaryOp). */
  unary(op: UnaryOp, x: DeviceBuffer, out: DeviceBuffer, n: number, a: number, b: number): void;
  /**
   * SwiGLU's activation: out[i] = silu(gate[i]) * up[i] for i < n, with silu(v) = v * sigmoid(v)
   * as unary 'silu' computes it, times up: the unary and binary ops' result in one pass.
   */
  swiglu(gate: DeviceBuffer, up: DeviceBuffer, out: DeviceBuffer, n: number): void;
  /**
   * Its backward for i < n: dGate[i] = dOut[i] * up[i] * siluGrad(gate[i]) (unary 'siluGrad') and
   * dUp[i] = dOut[i] * silu(gate[i]), reading the three inputs once.
   */
  swigluBackward(gate: DeviceBuffer, up: DeviceBuffer, dOut: DeviceBuffer, dGate: DeviceBuffer, dUp: DeviceBuffer, n: number): void;
  /** Broadcasting binary op: out (dense, `shape`) = op(a, b), a and b read through their views. */
  binary(op: BinaryOp, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void;
  /**
   * out (dense, `shape`) = cond != 0 ? a : b, all read through their views like `binary`, except
   * that every view's offset must be 0 (the kernels take none; the tensor layer densifies views first).
   */
  where(cond: StridedView, a: StridedView, b: StridedView, out: DeviceBuffer, shape: number[]): void;

  // --- reductions ------------------------------------------------------------------------------
  /** x dense [outer, len, inner] -> out dense [outer, inner], reducing the middle axis. */
  reduce(op: ReduceOp, x: DeviceBuffer, out: DeviceBuffer, outer: number, len: number, inner: number): void;

  // --- matmul ----------------------------------------------------------------------------------
  /** out [batch, m, n] (dense) = op(A) @ op(B) per batch item. */
  matmul(a: DeviceBuffer, b: DeviceBuffer, out: DeviceBuffer, args: MatmulArgs): void;

  // --- fused routines (each has its backward as a kernel) -----------------------------------------
  /** Row softmax over the last axis: x, out [rows, cols]. */
  softmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void;
  /** dx = y * (dy - sum(dy * y)) per row, y the softmax output. */
  softmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void;
  /** Row log-softmax over the last axis. */
  logSoftmax(x: DeviceBuffer, out: DeviceBuffer, rows: number, cols: number): void;
  /** dx = dy - exp(y) * sum(dy) per row, y the log-softmax output. */
  logSoftmaxBackward(y: DeviceBuffer, dy: DeviceBuffer, dx: DeviceBuffer, rows: number, cols: number): void;

  /**
   * out[r, :] = table[ids[r], :]; table [vocab, dim] f32 (or f16 where `halfStorage`, given as
   * `tableDtype`), ids [rows] i32, out [rows, dim] f32.
   */
  embedding(table: DeviceBuffer, ids: DeviceBuffer, out: DeviceBuffer, rows: number, dim: number, tableDtype?: 'f32' | 'f16'): void;
  /** dTable[ids[r], :] += dOut[r, :] (scatter-add; dTable is not cleared first). */
  embeddingBackward(dOut: DeviceBuffer, ids: DeviceBuffer, dTable: DeviceBuffer, rows: number, dim: number): void;

  /**
   * RMSNorm over the last axis: out = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps).
   * x, out [rows, dim]; w [dim]; rstd [rows] is written for the backward pass.
   */
  rmsnorm(x: DeviceBuffer, w: DeviceBuffer, out: DeviceBuffer, rstd: DeviceBuffer, rows: number, dim: number, eps: number): void;
  /** dx [rows, dim] is overwritten; dw [dim] is accumulated into. */
  rmsnormBackward(dy: DeviceBuffer, x: DeviceBuffer, w: DeviceBuffer, rstd: DeviceBuffer,
    dx: DeviceBuffer, dw: DeviceBuffer, rows: number, dim: number): void;

  /**
   * Rotary embedding, HF rotate-half convention, on x [rows, H, D] (rows = B*T) with
   * positions [rows] i32 and tables cos, sin [maxPos, D/2]:
   * for j < D/2: out[j] = x[j]*c - x[j+D/2]*s; out[j+D/2] = x[j+D/2]*c + x[j]*s.
   * `inverse` rotates by the negative angle, which is the backward pass.
   */
  rope(x: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer, out: DeviceBuffer,
    rows: number, H: number, D: number, inverse: boolean): void;

  /**
   * Forward of fused attention (see AttentionArgs). `lse` [B, H, Tq] receives the log-sum-exp of
   * each query's scaled scores, for the backward pass.
   */
  attention(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null,
    out: DeviceBuffer, lse: DeviceBuffer, args: AttentionArgs): void;
  /** dq is overwritten; dk and dv (same layout as k, v) are accumulated into. */
  attentionBackward(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyBias: DeviceBuffer | null,
    out: DeviceBuffer, lse: DeviceBuffer, dOut: DeviceBuffer,
    dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer, args: AttentionArgs): void;

  /**
   * From logits [rows, vocab] scaled by `invTemperature`, the log-prob of the chosen token ids [rows]
   * and the entropy of each row's distribution, without materialising the softmax:
   * logp[r] = z[ids[r]] - lse, entropy[r] = lse - sum(p * z), z = logits * invTemperature.
   * lse [rows] is written for the backward pass.
   */
  logprobEntropy(logits: DeviceBuffer, ids: DeviceBuffer, logp: DeviceBuffer, entropy: DeviceBuffer, lse: DeviceBuffer,
    rows: number, vocab: number, invTemperature: number): void;
  /**
   * dLogits [rows, vocab] (overwritten) from upstream dLogp, dEntropy [rows]:
   * dz_j = dLogp * (1[j = id] - p_j) - dEntropy * p_j * (log p_j + H), times invTemperature.
   */
  logprobEntropyBackward(logits: DeviceBuffer, ids: DeviceBuffer, lse: DeviceBuffer, entropy: DeviceBuffer,
    dLogp: DeviceBuffer, dEntropy: DeviceBuffer, dLogits: DeviceBuffer, rows: number, vocab: number, invTemperature: number): void;

  /**
   * Draws one token per row of logits [rows, vocab] and returns it with its log-prob, so only
   * `tokens` [rows] i32 and `logprobs` [rows] f32 travel back to the host. `uniforms` [rows] i32
   * holds each row's random draw as the 32 bits of a uniform u = (bits as uint32) / 2^32 (unused
   * when greedy), so every backend sees the host's exact number.
   *
   * Definition (what src/generation/sampler.ts does on the host in float64): the rank order is
   * decreasing logit, ties by increasing index; m is the max logit and w_i = exp((z_i - m) / T),
   * S = sum w. Greedy (T = 0): the first index holding m, log-prob -log sum exp(z_i - m) (T = 1).
   * Plain sampling (no top-k/top-p): the first index i, in index order, where the running sum
   * w_0 + ... + w_i reaches u * S. With top-k and/or top-p: the kept set is the shortest rank
   * prefix, at most topK long, whose mass reaches topP times the top-k mass; the token is the
   * first in rank order where the running mass reaches u times the kept mass. Where rounding makes
   * no running sum reach its target, the arg-max (plain) or the last kept token is taken.
   * logprob = (z_token - m) / T - log S. NaN logits are undefined behaviour.
   *
   * Backends may compute the sums in float32 (in any order): a draw whose u lies within that
   * rounding of a boundary between two tokens may then pick the neighbour.
   */
  sample(logits: DeviceBuffer, uniforms: DeviceBuffer, tokens: DeviceBuffer, logprobs: DeviceBuffer,
    rows: number, vocab: number, args: SampleArgs): void;
  // --- fused decoding routines (no backward: the tensor layer uses them without gradients) ------
  /**
   * See LinearGroupArgs. `weights`, `biases` (null: none) and, for 'none', `outs` [m, n_w] have one
   * entry per weight; 'swiglu' has one output [m, n_0]. At most 3 weights.
   */
  linearGroup(x: DeviceBuffer, weights: DeviceBuffer[], biases: (DeviceBuffer | null)[], residual: DeviceBuffer | null,
    outs: DeviceBuffer[], args: LinearGroupArgs): void;
  /** See RopeKvWriteArgs; positions [B*T] i32 and the tables cos, sin [maxPos, D/2] as for `rope`. */
  ropeKvWrite(q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, positions: DeviceBuffer, cos: DeviceBuffer, sin: DeviceBuffer,
    qOut: DeviceBuffer, kCache: DeviceBuffer, vCache: DeviceBuffer, args: RopeKvWriteArgs): void;

  // --- optimizer -------------------------------------------------------------------------------
  /**
   * One AdamW step over n elements (PyTorch semantics, decoupled weight decay):
   * p -= lr*wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
   * p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps).
   */
  adamw(param: DeviceBuffer, grad: DeviceBuffer, m: DeviceBuffer, v: DeviceBuffer, args: AdamWArgs): void;
}
