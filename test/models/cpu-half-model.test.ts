// A frozen model on the CPU backend with f16 weights: tiny-llama's BF16 weights convert to f16
// exactly, and widening is exact, so the f16 model's logits equal the f32 model's up to the
// rounding of the f32 sums (the same kernels run on the same values).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { tinyLlamaDir } from '../helpers/assets.js';
import { modelLogits } from '../helpers/model-logits.js';
import { relError } from '../backend/cpu-harness.js';

test('tiny-llama frozen in f16 on the CPU: same logits as in f32, matrices stored as f16', async () => {
  const ids = [1, 5, 9, 15, 12, 3, 4, 10, 7];
  const f32 = await CpuBackend.create({ threads: 2 });
  const f16 = await CpuBackend.create({ threads: 2, weightDtype: 'f16' });
  try {
    const want = await modelLogits(f32, tinyLlamaDir, ids, { frozen: true });
    let halfBytes = 0;
    const got = await modelLogits(f16, tinyLlamaDir, ids, {
      frozen: true,
      inspect: (m) => {
        for (const [name, p] of m.namedParameters()) {
          assert.equal(p.dtype, name.endsWith('norm.weight') ? 'f32' : 'f16', name);
          if (p.dtype === 'f16') halfBytes += p.size * 2;
        }
      },
    });
    assert.ok(halfBytes > 0);
    const err = relError(got, want);
    assert.ok(err < 1e-6, `f16 logits differ from f32 by ${err.toExponential(2)}`);
  } finally {
    f32.destroy();
    f16.destroy();
  }
});
