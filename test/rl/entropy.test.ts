import { test } from 'node:test';
import { aggLoss, lossAggModes } from '../../src/rl/agg.js';
import { computeEntropyLoss, entropyFromLogits } from '../../src/rl/entropy.js';
import { assertAllClose, assertClose, centralDiff, maskFromLengths, rng, uniform } from './helpers.js';

test('entropyFromLogits equals −Σ p log p with p = softmax(z / temperature)', () => {
  const V = 7;
  const logits = uniform(rng(41), 3 * V, -30, 30); // wide range: the max-shift must hold
  for (const temperature of [1, 0.6]) {
    const got = entropyFromLogits(logits, V, temperature);
    for (let i = 0; i < 3; i++) {
      const z = Array.from(logits.slice(i * V, (i + 1) * V), (x) => x / temperature);
      const max = Math.max(...z);
      const e = z.map((x) => Math.exp(x - max));
      const s = e.reduce((a, b) => a + b, 0);
      const h = -e.reduce((acc, ei) => acc + (ei / s) * Math.log(ei / s), 0);
      assertClose(got[i]!, h, 1e-10, 1e-8, `row ${i} T=${temperature}`);
    }
  }
  assertAllClose(entropyFromLogits(new Float64Array(4), 4), [Math.log(4)], 1e-12, 0, 'uniform');
});

for (const mode of lossAggModes) {
  test(`entropy loss ${mode}: aggregation and gradient`, () => {
    const T = 4;
    const m = maskFromLengths([4, 0, 1], T);
    const h = uniform(rng(42), m.length, 0, 3);
    const got = computeEntropyLoss({ entropy: h, responseMask: m, responseLength: T }, mode);
    assertClose(got.entropyLoss, aggLoss(h, m, T, mode), 1e-12, 1e-12);
    const f = (x: Float64Array) => computeEntropyLoss({ entropy: x, responseMask: m, responseLength: T }, mode).entropyLoss;
    assertAllClose(got.dEntropy, centralDiff(f, h), 1e-7, 1e-5);
  });
}
