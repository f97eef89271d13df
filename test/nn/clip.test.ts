// clipGradNorm against a hand computation: the pre-clip norm is returned, grads are scaled to maxNorm.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { clipGradNorm, clipGradNormAsync, createParameter, zerosInit, type Parameter } from '../../src/nn/index.js';
import { getBackend, keep, setBackend, tensor, tidy } from '../../src/tensor/index.js';

setBackend(new ReferenceBackend());

function paramWithGrad(grad: number[], shape: number[]): Parameter {
  const p = createParameter(shape, zerosInit());
  p.grad = keep(tensor(grad, shape));
  return p;
}

function grads(ps: Parameter[]): number[][] {
  return ps.map((p) => Array.from(p.grad!.dataSync()));
}

function near(a: number, b: number, tol: number, msg = ''): void {
  assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);
}

describe('clipGradNorm', () => {
  test('returns the pre-clip norm and scales every gradient by maxNorm / (norm + 1e-6)', () => {
    // Norm over both tensors: sqrt(9 + 16 + 0 + 144) = 13.
    const ps = [paramWithGrad([3, 4], [2]), paramWithGrad([0, 12], [1, 2])];
    const norm = clipGradNorm(ps, 1);
    near(norm, 13, 1e-6, 'norm');
    const coef = 1 / (13 + 1e-6);
    const want = [[3 * coef, 4 * coef], [0, 12 * coef]];
    grads(ps).flat().forEach((g, i) => near(g, want.flat()[i]!, 1e-7, `grad ${i}`));
    // After clipping, the norm is maxNorm (up to the 1e-6).
    near(clipGradNorm(ps, 100), 1, 1e-6, 'norm after clip');
  });

  test('leaves gradients untouched when the norm is below maxNorm, and skips parameters without grads', () => {
    const noGrad = createParameter([3], zerosInit());
    const ps = [paramWithGrad([0.3, -0.4], [2]), noGrad];
    near(clipGradNorm(ps, 1), 0.5, 1e-7);
    assert.deepEqual(grads([ps[0]!])[0], [0.30000001192092896, -0.4000000059604645]);
    assert.equal(noGrad.grad, null);
    assert.equal(clipGradNorm([noGrad], 1), 0, 'no gradients at all: norm 0');
  });

  test('a non-finite norm is returned and nothing is scaled', () => {
    const ps = [paramWithGrad([1, Number.NaN], [2]), paramWithGrad([5, 5], [2])];
    assert.ok(Number.isNaN(clipGradNorm(ps, 1)));
    assert.deepEqual(grads(ps)[1], [5, 5]);
    const inf = [paramWithGrad([Number.POSITIVE_INFINITY, 1], [2]), paramWithGrad([5, 5], [2])];
    assert.equal(clipGradNorm(inf, 1), Number.POSITIVE_INFINITY);
    assert.deepEqual(grads(inf)[1], [5, 5]);
  });

  test('holds one gradient-sized temporary at a time, not one per gradient', () => {
    const n = 4096;
    const ps = Array.from({ length: 8 }, (_, i) => paramWithGrad(Array.from({ length: n }, (_, j) => Math.sin(i * n + j)), [n]));
    const backend = getBackend();
    const before = backend.memoryStats().bytesInUse;
    backend.resetPeak();
    clipGradNorm(ps, 1e-3);
    const extra = backend.memoryStats().peakBytesInUse - before;
    // The squares of one gradient, its scaled copy, and a few small per-tensor sums.
    assert.ok(extra <= 2 * n * 4 + 1024, `peak ${extra} bytes above the gradients, one gradient is ${n * 4}`);
  });

  test('the async variant agrees, and clipping leaks no buffers even inside a scope', async () => {
    const ps = [paramWithGrad([6, 8], [2])];
    const live = getBackend().memoryStats().liveBuffers;
    tidy(() => { clipGradNorm(ps, 5); });
    assert.equal(getBackend().memoryStats().liveBuffers, live);
    near(await clipGradNormAsync(ps, 1), 5, 1e-5);
    grads(ps)[0]!.forEach((g, i) => near(g, [0.6, 0.8][i]!, 1e-6));
    assert.equal(getBackend().memoryStats().liveBuffers, live);
  });

  test('rejects a non-positive maxNorm', () => {
    assert.throws(() => clipGradNorm([], 0), /maxNorm must be > 0/);
  });
});
