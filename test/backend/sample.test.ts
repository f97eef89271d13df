// Backend.sample on the reference, CPU and WebGPU backends against the host sampler, on vocabularies
// that are and are not multiples of the SIMD width and of the CPU kernel's 256-logit blocks.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { checkBackend, makeCases, runSample, type SampleCase } from './sample-harness.js';
import { openWebGpu } from './webgpu-harness.js';

const VOCABS = [1, 3, 8, 13, 257, 1000];
const cases: SampleCase[] = VOCABS.flatMap((v, i) => makeCases(v, 100 + i));

describe('Backend.sample', () => {
  test('the reference backend draws what the host sampler draws, bit for bit', async () => {
    await checkBackend(new ReferenceBackend(), cases, true);
  });

  test('the CPU backend draws the host sampler\'s tokens except within rounding of a boundary', async (t) => {
    for (const threads of [1, 2]) {
      const cpu = await CpuBackend.create({ threads, split: 'always' });
      try {
        const flips = await checkBackend(cpu, cases, false);
        t.diagnostic(`threads ${threads}: ${flips} of ${cases.reduce((s, c) => s + c.rows, 0)} draws differ within rounding`);
        assert.ok(flips <= 2, `${flips} draws differ from the host`);
      } finally {
        cpu.destroy();
      }
    }
  });

  test('greedy is the first arg-max on the CPU backend, with a large vocabulary', async () => {
    const cpu = await CpuBackend.create({ threads: 1 });
    try {
      const vocab = 151_936;
      const logits = new Float32Array(2 * vocab).fill(-3);
      logits[77_777] = 5;
      logits[151_000] = 5;
      logits[vocab + 151_935] = 1;
      const c: SampleCase = { label: 'large', logits, rows: 2, vocab, args: { temperature: 0, topK: -1, topP: 1 }, bits: new Int32Array(2) };
      const got = await runSample(cpu, c);
      assert.deepEqual(Array.from(got.tokens), [77_777, 151_935]);
    } finally {
      cpu.destroy();
    }
  });
});

const { gpu, skip } = await openWebGpu();
after(() => gpu?.destroy());

describe('Backend.sample on WebGPU', { skip }, () => {
  test('draws the host sampler\'s tokens except within rounding of a boundary', async (t) => {
    const flips = await checkBackend(gpu!, cases, false);
    t.diagnostic(`${flips} of ${cases.reduce((s, c) => s + c.rows, 0)} draws differ within rounding`);
    assert.ok(flips <= 2, `${flips} draws differ from the host`);
  });
});
