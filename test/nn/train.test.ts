// End to end: a 2-layer MLP fits a tiny regression problem with AdamW, one tidy() scope per step,
// and the backend's live-buffer count is the same after every step (no leak).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { AdamW, Linear, LrScheduler, Module, clipGradNorm, normalInit } from '../../src/nn/index.js';
import { Prng } from '../../src/util/prng.js';
import { getBackend, keep, noGrad, setBackend, silu, tensor, tidy, type Tensor } from '../../src/tensor/index.js';

setBackend(new ReferenceBackend());

class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(seed: number, std: number) {
    super();
    const rng = new Prng(seed);
    this.fc1 = this.addModule('fc1', new Linear(4, 32, { init: normalInit(rng, std) }));
    this.fc2 = this.addModule('fc2', new Linear(32, 1, { init: normalInit(rng, std) }));
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(silu(this.fc1.forward(x)));
  }
}

describe('training a 2-layer MLP', () => {
  test('AdamW drives the loss down by more than 100x with a flat live-buffer count', () => {
    const backend = getBackend();
    const start = backend.memoryStats().liveBuffers;
    const rng = new Prng(2024);
    // Targets from a random teacher of the same shape, so a perfect fit exists.
    const x = keep(tensor(rng.fillNormal(new Float32Array(64 * 4), 1), [64, 4]));
    const teacher = new Mlp(7, 0.5);
    const y = keep(noGrad(() => tidy(() => teacher.forward(x))));
    teacher.dispose();

    const model = new Mlp(1, 0.1);
    const opt = new AdamW(model, { lr: 2e-2 });
    const sched = new LrScheduler(opt, 2e-2, { kind: 'cosine', warmupSteps: 10, totalSteps: 400, minLrRatio: 0.05 });
    const baseline = backend.memoryStats().liveBuffers;
    // After the first step the gradients (4) and AdamW's m and v (8) stay alive, nothing else.
    const expected = baseline + 3 * model.parameters().length;

    const losses: number[] = [];
    for (let step = 0; step < 400; step++) {
      const loss = tidy(() => {
        model.zeroGrad();
        const diff = model.forward(x).sub(y);
        const l = diff.square().mean();
        l.backward();
        const norm = clipGradNorm(model, 10);
        assert.ok(Number.isFinite(norm), `grad norm at step ${step}`);
        opt.step();
        sched.step();
        return l.item();
      });
      losses.push(loss);
      assert.equal(backend.memoryStats().liveBuffers, expected, `live buffers after step ${step}`);
    }
    const first = losses[0]!;
    const last = losses[losses.length - 1]!;
    assert.ok(last * 100 < first, `loss ${first} -> ${last}`);

    model.dispose();
    opt.dispose();
    x.dispose();
    y.dispose();
    assert.equal(backend.memoryStats().liveBuffers, start, 'everything freed');
  });
});
