/**
 * Token sampling on the backend (`Backend.sample`): the logits stay where they are and only the
 * chosen ids and their log-probs come out. Not differentiable: it is a draw, not a function of the
 * logits with a gradient.
 */
import type { SampleArgs } from '../../backend/backend.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { denseAtZero } from './elementwise.js';

export interface SampledTokens {
  /** The drawn ids, i32, shaped like the logits without their last axis. */
  tokens: Tensor;
  /** log softmax(logits / temperature) of each drawn id (temperature 1 when greedy), f32. */
  logprobs: Tensor;
}

/** Throws naming the setting when one is outside what `Backend.sample` accepts. */
export function validateSampleArgs(args: SampleArgs, op = 'sampleTokens'): void {
  if (!(args.temperature >= 0) || !Number.isFinite(args.temperature)) throw new Error(`${op}: temperature must be >= 0, got ${args.temperature}`);
  if (!Number.isInteger(args.topK) || args.topK < -1) throw new Error(`${op}: top_k must be -1, 0 or a positive integer, got ${args.topK}`);
  if (!(args.topP > 0 && args.topP <= 1)) throw new Error(`${op}: top_p must be in (0, 1], got ${args.topP}`);
}

/**
 * Draws one token per row of `logits` [..., vocab] with the uniforms given as their 32 random bits
 * (`uniformBits`, i32, [...]: u = (bits as uint32) / 2^32, as Prng.uniform() makes it from
 * nextUint32()); see `Backend.sample` for the exact definition, top-k and top-p included.
 */
export function sampleTokens(logits: Tensor, uniformBits: Tensor, args: SampleArgs): SampledTokens {
  const op = 'sampleTokens';
  logits.assertAlive(op);
  uniformBits.assertAlive(op);
  if (logits.dtype !== 'f32') throw new Error(`${op}: logits must be f32, got ${logits.dtype} of shape ${formatShape(logits.shape)}`);
  if (uniformBits.dtype !== 'i32') throw new Error(`${op}: uniformBits must be i32, got ${uniformBits.dtype} of shape ${formatShape(uniformBits.shape)}`);
  validateSampleArgs(args, op);
  if (logits.ndim < 1) throw new Error(`${op}: logits need a vocabulary axis, got shape ${formatShape(logits.shape)}`);
  const vocab = logits.shape[logits.ndim - 1]!;
  const rowShape = logits.shape.slice(0, -1);
  if (vocab === 0) throw new Error(`${op}: logits ${formatShape(logits.shape)} have an empty vocabulary`);
  if (formatShape(uniformBits.shape) !== formatShape(rowShape)) {
    throw new Error(`${op}: uniformBits ${formatShape(uniformBits.shape)} must have the logits' rows ${formatShape(rowShape)}`);
  }
  if (logits.backend !== uniformBits.backend) throw new Error(`${op}: logits and uniformBits live on different backends`);
  const rows = uniformBits.size;
  const tokens = Tensor.empty(rowShape, 'i32', logits.backend);
  const logprobs = Tensor.empty(rowShape, 'f32', logits.backend);
  if (rows > 0) {
    const ld = denseAtZero(logits), ud = denseAtZero(uniformBits);
    try {
      logits.backend.sample(ld.buffer, ud.buffer, tokens.buffer, logprobs.buffer, rows, vocab, args);
    } finally {
      if (ld !== logits) ld.dispose();
      if (ud !== uniformBits) ud.dispose();
    }
  }
  return { tokens, logprobs };
}
