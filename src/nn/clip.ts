/**
 * Gradient-norm clipping like torch.nn.utils.clip_grad_norm_: the total L2 norm over every
 * gradient is returned before clipping, and when it exceeds maxNorm every gradient is scaled in
 * place by maxNorm / (norm + 1e-6). A non-finite norm is returned as is and nothing is scaled, so
 * the trainer can skip the step (torch would scale the gradients by NaN).
 */
import { concat, copyInto, mul, noGrad, reshape, square, sum, tidy, type Tensor } from '../tensor/index.js';
import { Module } from './module.js';

type Params = Module | Iterable<Tensor>;

function gradsOf(params: Params): Tensor[] {
  const list = params instanceof Module ? params.parameters() : [...params];
  const grads: Tensor[] = [];
  for (const p of list) if (p.grad) grads.push(p.grad);
  return grads;
}

function checkMaxNorm(maxNorm: number): void {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
}

/**
 * Sum of squares of each gradient, on the device: [numGrads]. Reading them back once and adding
 * on the host in float64 keeps one round trip (which matters on WebGPU) and limits float32
 * accumulation to within one tensor. Each square is freed before the next is made, so the
 * temporaries peak at one gradient's size (all of them at once would double the gradients' memory).
 */
function squaredNorms(grads: Tensor[]): Tensor {
  return noGrad(() => tidy(() => concat(grads.map((g) => tidy(() => reshape(sum(square(g)), [1]))), 0)));
}

function total(squares: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < squares.length; i++) s += squares[i]!;
  return Math.sqrt(s);
}

function scaleGrads(grads: Tensor[], norm: number, maxNorm: number): void {
  if (!Number.isFinite(norm)) return;
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return;
  noGrad(() => tidy(() => {
    for (const g of grads) {
      const scaled = mul(g, coef);
      copyInto(scaled, g, false);
      scaled.dispose();
    }
  }));
}

/** Synchronous version, for backends with sync reads (the CPU ones). Returns the pre-clip norm. */
export function clipGradNorm(params: Params, maxNorm: number): number {
  checkMaxNorm(maxNorm);
  const grads = gradsOf(params);
  if (grads.length === 0) return 0;
  const sq = squaredNorms(grads);
  let norm: number;
  try {
    norm = total(sq.dataSync());
  } finally {
    sq.dispose();
  }
  scaleGrads(grads, norm, maxNorm);
  return norm;
}

/** Same as clipGradNorm, reading back asynchronously (any backend). */
export async function clipGradNormAsync(params: Params, maxNorm: number): Promise<number> {
  checkMaxNorm(maxNorm);
  const grads = gradsOf(params);
  if (grads.length === 0) return 0;
  const sq = squaredNorms(grads);
  let norm: number;
  try {
    norm = total(await sq.data());
  } finally {
    sq.dispose();
  }
  scaleGrads(grads, norm, maxNorm);
  return norm;
}
