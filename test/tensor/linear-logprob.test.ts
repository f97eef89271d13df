// The chunked output layer + log-prob/entropy (use_fused_kernels) against the unchunked
// composition on the reference backend and the CPU backend: the same values and the same gradients
// for the hidden states and the weight, at any chunk size; and less memory at its peak.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { f32ArrayToF16 } from '../../src/util/float16.js';
import * as T from '../../src/tensor/index.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

interface Run { logp: Float32Array; entropy: Float32Array; dHidden: Float32Array; dWeight: Float32Array | null }

/** logp, entropy and the gradients of sum(logp * a + entropy * b) with respect to hidden and weight. */
function run(be: Backend, hiddenValues: Float32Array, weightValues: Float32Array, idValues: Int32Array, lead: number[], D: number, V: number,
  temperature: number, chunkRows: number | null, weightGrad = true): Run {
  T.setBackend(be);
  return T.tidy(() => {
    const hidden = T.tensor(hiddenValues, [...lead, D]);
    hidden.requiresGrad = true;
    const weight = T.tensor(weightValues, [V, D]);
    weight.requiresGrad = weightGrad;
    const ids = T.tensor(idValues, lead, 'i32');
    const { logp, entropy } = chunkRows === null
      ? T.logprobEntropy(T.linear(hidden, weight), ids, temperature)
      : T.linearLogprobEntropy(hidden, weight, ids, temperature, chunkRows);
    const n = idValues.length;
    const a = T.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1)), lead);
    const b = T.tensor(Float32Array.from({ length: n }, (_, i) => Math.cos(2 * i)), lead);
    T.add(T.sum(T.mul(logp, a)), T.sum(T.mul(entropy, b))).backward();
    const out: Run = {
      logp: logp.dataSync() as Float32Array, entropy: entropy.dataSync() as Float32Array,
      dHidden: hidden.grad!.dataSync() as Float32Array, dWeight: weightGrad ? weight.grad!.dataSync() as Float32Array : null,
    };
    hidden.grad!.dispose();
    weight.grad?.dispose();
    return out;
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, scale), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`);
  }
}

function inputs(seed: number, rows: number, D: number, V: number): { hidden: Float32Array; weight: Float32Array; ids: Int32Array } {
  const rng = new Rng(seed);
  return {
    hidden: Float32Array.from({ length: rows * D }, () => rng.normal()),
    weight: Float32Array.from({ length: V * D }, () => rng.normal() * 0.5),
    ids: Int32Array.from({ length: rows }, () => Math.floor(rng.uniform() * V)),
  };
}

describe('linearLogprobEntropy', () => {
  test('gradients against finite differences (float64 reference), chunks of 2 over 5 rows', () => {
    gradCheck([{ shape: [5, 4] }, { shape: [7, 4] }, { shape: [5], ints: { max: 7 }, noGrad: true }], (h, w, ids) => {
      const { logp, entropy } = T.linearLogprobEntropy(h!, w!, ids!, 0.7, 2);
      return T.add(logp, T.mul(entropy, 0.7));
    });
  });

  for (const [name, make] of [['reference', async () => new ReferenceBackend()], ['cpu', async () => CpuBackend.create({ threads: 2 })]] as const) {
    test(`${name}: values and gradients equal the unchunked composition at every chunk size`, async () => {
      const be = await make();
      const D = 24, V = 70;
      for (const [lead, temperature] of [[[2, 5], 1], [[13], 0.6], [[1], 1.3]] as [number[], number][]) {
        const rows = lead.reduce((x, y) => x * y, 1);
        const x = inputs(rows, rows, D, V);
        const want = run(be, x.hidden, x.weight, x.ids, [...lead], D, V, temperature, null);
        for (const chunkRows of [1, 3, rows, rows + 4]) {
          const got = run(be, x.hidden, x.weight, x.ids, [...lead], D, V, temperature, chunkRows);
          const at = `${name} rows ${rows} chunk ${chunkRows} T ${temperature}`;
          assertClose(got.logp, want.logp, 1e-5, `${at} logp`);
          assertClose(got.entropy, want.entropy, 1e-5, `${at} entropy`);
          assertClose(got.dHidden, want.dHidden, 1e-5, `${at} dHidden`);
          assertClose(got.dWeight!, want.dWeight!, 1e-5, `${at} dWeight`);
        }
      }
      be.destroy?.();
    });
  }

  test('cpu: a frozen f16 weight (a LoRA base) gives the hidden states the unchunked values and gradient', async () => {
    const be = await CpuBackend.create({ threads: 2 });
    T.setBackend(be);
    const D = 16, V = 40, rows = 9;
    const x = inputs(3, rows, D, V);
    const results = [null, 4].map((chunkRows) => T.tidy(() => {
      const hidden = T.tensor(x.hidden, [rows, D]);
      hidden.requiresGrad = true;
      const weight = T.Tensor.empty([V, D], 'f16', be);
      be.write(weight.buffer, f32ArrayToF16(x.weight));
      const ids = T.tensor(x.ids, [rows], 'i32');
      const { logp, entropy } = chunkRows === null
        ? T.logprobEntropy(T.linear(hidden, weight), ids, 1)
        : T.linearLogprobEntropy(hidden, weight, ids, 1, chunkRows);
      T.add(T.sum(logp), T.sum(T.mul(entropy, 0.3))).backward();
      const out = { logp: logp.dataSync() as Float32Array, dHidden: hidden.grad!.dataSync() as Float32Array };
      hidden.grad!.dispose();
      return out;
    }));
    assertClose(results[1]!.logp, results[0]!.logp, 1e-5, 'f16 logp');
    assertClose(results[1]!.dHidden, results[0]!.dHidden, 1e-5, 'f16 dHidden');
    be.destroy();
  });

  test('cpu: the peak holds one chunk of logits, not all of them', async () => {
    const D = 8, V = 4096, rows = 256;
    const x = inputs(5, rows, D, V);
    const peaks = [];
    for (const chunkRows of [null, 8]) {
      const be = await CpuBackend.create({ threads: 1 });
      run(be, x.hidden, x.weight, x.ids, [rows], D, V, 1, chunkRows);
      be.resetPeak();
      const before = be.memoryStats().bytesInUse;
      run(be, x.hidden, x.weight, x.ids, [rows], D, V, 1, chunkRows);
      peaks.push(be.memoryStats().peakBytesInUse - before);
      be.destroy();
    }
    const logitsBytes = rows * V * 4;
    // Unchunked: the logits and their gradient (2 x 4 MiB); chunked: an 8-row chunk of each (2 x 128 KiB) and the weight-sized gradient.
    assert.ok(peaks[0]! >= 2 * logitsBytes, `unchunked peak ${peaks[0]} B`);
    assert.ok(peaks[1]! < logitsBytes / 4, `chunked peak ${peaks[1]} B against ${logitsBytes} B of logits`);
  });

  test('errors name the argument and what was expected', () => {
    T.setBackend(new ReferenceBackend());
    T.tidy(() => {
      const h = T.zeros([3, 4]), w = T.zeros([5, 4]), ids = T.tensor(Int32Array.from([0, 1, 2]), [3], 'i32');
      assert.throws(() => T.linearLogprobEntropy(h, w, ids, 1, 0), /chunkRows must be a positive integer, got 0/);
      assert.throws(() => T.linearLogprobEntropy(h, T.zeros([5, 3]), ids, 1, 2), /weight must be \[vocab, 4\]/);
      assert.throws(() => T.linearLogprobEntropy(h, w, T.tensor(Int32Array.from([0, 1]), [2], 'i32'), 1, 2), /hidden \[3, 4\] does not match ids \[2\]/);
      assert.throws(() => T.linearLogprobEntropy(h, w, ids, 0, 2), /temperature must be > 0/);
    });
  });
});
