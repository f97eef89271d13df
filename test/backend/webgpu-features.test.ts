// The kernels that optional adapter features switch on, on an adapter that has them: f16 weights
// (`shader-f16`: matmul's B and the embedding table stored as f16, f32 accumulation) and subgroup
// row reductions (`subgroups`). Here that adapter is Mesa's lavapipe through Dawn's Vulkan backend
// (scripts/lavapipe.sh unpacks it; the test runner passes it on); on a GPU machine, the GPU's.
// Each group is skipped with the reason where the adapter lacks its feature.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, MatmulArgs } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/util/float16.js';
import { parseModelConfig } from '../../src/models/config.js';
import { CausalLM } from '../../src/models/llama.js';
import { loadCausalLM, saveModel } from '../../src/models/load.js';
import * as T from '../../src/tensor/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { train } from '../../src/trainer/index.js';
import { repoRoot, tinyLlamaDir } from '../helpers/assets.js';
import { Rng } from '../helpers/rng.js';
import { relError, runCase } from './cpu-harness.js';
import {
  assertSameAsync, linearGroupCase, openWebGpu, rmsnormCase, runCaseAsync, softmaxFamilyCase, useLavapipe, WEBGPU_LINEAR_GROUPS,
} from './webgpu-harness.js';
import { modelLogits } from '../helpers/model-logits.js';

const lavapipe = useLavapipe();
const { gpu: maybeGpu, skip } = await openWebGpu({ weightDtype: 'f16' });
const gpu = maybeGpu!;
after(() => maybeGpu?.destroy());
const ref = new ReferenceBackend();
const rng = new Rng(8080);

const name = maybeGpu ? `${maybeGpu.adapter.description || maybeGpu.adapter.vendor} (${maybeGpu.adapter.featureLevel})` : '';
const hint = lavapipe ? '' : '; scripts/lavapipe.sh unpacks Mesa\'s lavapipe, whose Vulkan adapter has it';
const skipF16 = skip || (!gpu.halfStorage && `the adapter ${name} lacks shader-f16${hint}`);
const skipSub = skip || (!gpu.subgroups && `the adapter ${name} lacks subgroups${hint}`);
const skipTimestamps = skip || (!gpu.device.features.has('timestamp-query') && `the adapter ${name} lacks timestamp-query${hint}`);

/** max |a - b| / max |b| over plain arrays. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return relError(Float32Array.from(a), Float32Array.from(b));
}

describe('optional WebGPU features', { skip }, () => {
  test('adapter report', (t) => {
    const a = gpu.adapter;
    t.diagnostic(`adapter: ${name}; features: ${a.features.join(' ')}; subgroup sizes ${a.subgroupMinSize}..${a.subgroupMaxSize}; ` +
      `f16 weights ${gpu.weightDtype}; subgroup reductions ${gpu.subgroups}`);
    assert.equal(gpu.weightDtype, gpu.halfStorage ? 'f16' : 'f32');
    assert.equal(gpu.weightDtypeNote === null, gpu.halfStorage);
  });

  describe('f16 weights', { skip: skipF16 }, () => {
    test('write f16 bits, read back widened: odd lengths and offsets', async () => {
      for (const [n, offset] of [[1, 0], [7, 0], [6, 2], [1001, 4]] as const) {
        const values = rng.floats(n, 100);
        const bits = f32ArrayToF16(values);
        const buf = gpu.alloc(Math.ceil((n + offset) / 2) * 4);
        gpu.write(buf, bits, offset);
        for (const [at, len] of [[offset, n], [offset + 1, n - 1], [offset + n - 1, 1]] as const) {
          if (len <= 0) continue;
          const got = await gpu.read(buf, 'f16', at, len);
          assert.deepEqual([...got], [...f16ArrayToF32(bits.subarray(at - offset, at - offset + len))], `n ${n} read [${at}, +${len})`);
        }
        gpu.free(buf);
      }
      const b = gpu.alloc(16);
      assert.throws(() => gpu.write(b, new Uint16Array(2), 1), /f16 data must start at an even element/);
      assert.throws(() => gpu.fill(b, 2, 0, 'f16'), /fill: f16 buffers/);
      gpu.free(b);
    });

    test('matmul with f16 B: every transpose, batches, offsets, split along K; f32 accumulation', async (t) => {
      let worstRounded = 0;
      let worstExact = 0;
      for (const [m, n, k, batch, bStride, bOff] of [[1, 1, 1, 1, 1, 0], [5, 7, 31, 1, 217, 3], [17, 33, 130, 2, 0, 0], [64, 70, 96, 3, 6720, 1], [16, 40, 520, 1, 20800, 2]] as const) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const bLen = bOff + (bStride === 0 ? 1 : batch) * k * n;
            const A = rng.floats(batch * m * k);
            const B = rng.floats(bLen);
            const bits = f32ArrayToF16(B);
            const args: MatmulArgs = { batch, m, n, k, transA, transB, aBatchStride: m * k, bBatchStride: bStride === 0 ? 0 : k * n, bOffset: bOff, accumulate: false };
            const a = gpu.alloc(A.length * 4);
            const b = gpu.alloc(Math.ceil(bLen / 2) * 4);
            const out = gpu.alloc(batch * m * n * 4);
            gpu.write(a, A);
            gpu.write(b, bits);
            gpu.matmul(a, b, out, { ...args, bDtype: 'f16' });
            const got = (await gpu.read(out, 'f32', 0, batch * m * n)) as Float32Array;
            for (const x of [a, b, out]) gpu.free(x);
            const reference = (bValues: Float32Array): Float32Array => runCase(ref, {
              inputs: { a: A, b: bValues }, outputs: { out: batch * m * n }, compare: ['out'],
              call: (be, bufs) => be.matmul(bufs.a!, bufs.b!, bufs.out!, args),
            }).out!.subarray(0, batch * m * n);
            const label = `[${m},${n},${k}] x${batch} transA=${transA} transB=${transB}`;
            // Against B as the device holds it (rounded to f16): only f32 summation order differs.
            const rounded = relError(got, reference(f16ArrayToF32(bits)));
            assert.ok(rounded <= 1e-5, `${label}: ${rounded} from the product with f16-rounded B`);
            // Against the f32 B: f16's 11-bit significand, errors partly cancelling over k terms.
            const exact = relError(got, reference(B));
            assert.ok(exact <= 2e-3, `${label}: ${exact} from the f32 product`);
            worstRounded = Math.max(worstRounded, rounded);
            worstExact = Math.max(worstExact, exact);
          }
        }
      }
      t.diagnostic(`max error / max |out|: ${worstRounded.toExponential(2)} vs f16-rounded B, ${worstExact.toExponential(2)} vs f32 B`);
    });

    test('embedding from an f16 table gives the f16 values exactly; ids outside read 0', async () => {
      const [vocab, dim, rows] = [37, 19, 50];
      const bits = f32ArrayToF16(rng.floats(vocab * dim));
      const ids = Int32Array.from({ length: rows }, (_, i) => (i === 7 ? vocab + 3 : rng.int(vocab)));
      const table = gpu.alloc(Math.ceil(vocab * dim / 2) * 4);
      const idBuf = gpu.alloc(rows * 4);
      const out = gpu.alloc(rows * dim * 4);
      gpu.write(table, bits);
      gpu.write(idBuf, ids);
      gpu.embedding(table, idBuf, out, rows, dim, 'f16');
      const got = await gpu.read(out, 'f32', 0, rows * dim);
      const wide = f16ArrayToF32(bits);
      const want = Float32Array.from({ length: rows * dim }, (_, i) => {
        const id = ids[Math.floor(i / dim)]!;
        return id < vocab ? wide[id * dim + (i % dim)]! : 0;
      });
      assert.deepEqual([...got], [...want]);
      for (const x of [table, idBuf, out]) gpu.free(x);
    });

    test('frozen tiny-llama in f16: BF16 weights convert exactly, logits match the CPU; half the weight memory', async (t) => {
      const ids = [1, 5, 3, 7, 2, 9, 4, 11];
      const cpu = await CpuBackend.create({ threads: 1 });
      try {
        const want = await modelLogits(cpu, tinyLlamaDir, ids);
        const before = gpu.memoryStats().bytesInUse;
        const got = await modelLogits(gpu, tinyLlamaDir, ids, { frozen: true, inspect: (model) => {
          const params = model.namedParameters();
          for (const [n, p] of params) {
            const matrix = p.ndim === 2;
            assert.equal(p.dtype, matrix ? 'f16' : 'f32', n);
            assert.equal(p.requiresGrad, !matrix, `${n}: f16 weights are frozen`);
          }
          const halfBytes = params.reduce((s, [, p]) => s + p.size * (p.dtype === 'f16' ? 2 : 4), 0);
          const fullBytes = params.reduce((s, [, p]) => s + p.size * 4, 0);
          assert.ok(gpu.memoryStats().bytesInUse - before < 0.75 * fullBytes, `weights take ${gpu.memoryStats().bytesInUse - before} bytes, f16 needs ~${halfBytes}`);
          const w = model.model.embed_tokens.weight;
          assert.throws(() => T.contiguous(T.transpose(w)), /f16 tensors cannot be copied/);
          assert.throws(() => T.add(w, 1), /f16/);
        } });
        const err = relErr(got, want);
        t.diagnostic(`max |f16 webgpu - f32 cpu| / max |logit| = ${err.toExponential(2)}`);
        assert.ok(err <= 1e-4, `relative error ${err}`);
      } finally {
        cpu.destroy();
      }
    });

    test('frozen f32 checkpoint in f16: weights round once, logits stay within f16 precision', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'tinyzero-f16-'));
      const cpu = await CpuBackend.create({ threads: 1 });
      try {
        T.setBackend(cpu);
        const config = parseModelConfig({
          model_type: 'qwen2', vocab_size: 50, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2,
          num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true,
        });
        const model = new CausalLM(config, { seed: 3 });
        await saveModel(model, dir, { dtype: 'F32' });
        model.dispose();
        const ids = Array.from({ length: 12 }, () => rng.int(50));
        const want = await modelLogits(cpu, dir, ids);
        const got = await modelLogits(gpu, dir, ids, { frozen: true });
        const err = relErr(got, want);
        t.diagnostic(`max |f16 webgpu - f32 cpu| / max |logit| = ${err.toExponential(2)} (tied embedding read as f16 by matmul)`);
        assert.ok(err <= 2e-3 && err > 0, `relative error ${err}`);
      } finally {
        cpu.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('linearGroup with f16 weights', { skip: skipF16 }, () => {
    test('every group shape: as the reference with the weights rounded to f16; mixed dtypes as the plain kernels', async (t) => {
      let worst = 0;
      for (const [i, shape] of WEBGPU_LINEAR_GROUPS.entries()) {
        // Two generators from one seed: the same values, as f16 bits for the device and rounded f32 for the reference.
        const half = linearGroupCase(new Rng(500 + i), shape, (w) => f32ArrayToF16(w), 'f16');
        const rounded = linearGroupCase(new Rng(500 + i), shape, (w) => f16ArrayToF32(f32ArrayToF16(w)));
        const got = await runCaseAsync(gpu, half);
        const want = runCase(ref, rounded);
        for (const name of half.compare) {
          const err = relError(got[name]!, want[name]!.subarray(0, got[name]!.length));
          assert.ok(err <= 2e-5, `m=${shape.m} k=${shape.k} n=[${shape.n.join(',')}] ${shape.epilogue}: ${name} differs by ${err}`);
          worst = Math.max(worst, err);
        }
      }
      // One weight f16 and one f32: the plain kernels (each matmul reads its own B's dtype).
      const shape = WEBGPU_LINEAR_GROUPS.find((g) => g.epilogue === 'swiglu')!;
      const mixed = linearGroupCase(new Rng(7), shape);
      const w0 = mixed.inputs.w0 as Float32Array;
      mixed.inputs.w0 = f32ArrayToF16(w0);
      const call = mixed.call;
      mixed.call = (be, b) => be.linearGroup(b.x!, [b.w0!, b.w1!], [b.b0!, b.b1!], null, [b.o0!],
        { m: shape.m, k: shape.k, n: shape.n, wDtype: ['f16', 'f32'], epilogue: 'swiglu' });
      const got = await runCaseAsync(gpu, mixed);
      const reference = { ...mixed, inputs: { ...mixed.inputs, w0: f16ArrayToF32(f32ArrayToF16(w0)) }, call };
      const err = relError(got.o0!, runCase(ref, reference).o0!.subarray(0, got.o0!.length));
      assert.ok(err <= 2e-5, `mixed dtypes: ${err}`);
      worst = Math.max(worst, err);
      t.diagnostic(`max error / max |out| against f16-rounded weights: ${worst.toExponential(2)}`);
    });
  });

  describe('f16 reference policy', { skip: skipF16 }, () => {
    test('a PPO step with the reference policy in f16 gives the f32 reference\'s KL loss (BF16 weights convert exactly)', { timeout: 300_000 }, async (t) => {
      const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-f16-ref-'));
      try {
        const f32 = await ppoStep('f32', join(tmp, 'f32'));
        const f16 = await ppoStep('f16', join(tmp, 'f16'));
        t.diagnostic(`actor/kl_loss: f32 reference ${f32['actor/kl_loss']}, f16 reference ${f16['actor/kl_loss']}`);
        assert.ok(f32['actor/kl_loss']! > 0);
        for (const k of ['critic/score/mean', 'actor/pg_loss', 'actor/kl_loss', 'actor/ppo_kl', 'actor/grad_norm']) {
          assert.ok(Math.abs(f16[k]! - f32[k]!) <= 1e-5 * Math.max(1e-3, Math.abs(f32[k]!)), `${k}: f16 reference ${f16[k]} vs f32 ${f32[k]}`);
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  });

  describe('kernel profiling', { skip: skipTimestamps }, () => {
    test('each kernel timed by pipeline across batches; results as unprofiled', async () => {
      const [m, n, k] = [4, 60, 1024];
      const A = rng.floats(m * k);
      const B = rng.floats(k * n);
      const args: MatmulArgs = { batch: 1, m, n, k, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, accumulate: false };
      const run = async (): Promise<Float32Array> => {
        const [a, b, out, filled] = [gpu.alloc(m * k * 4), gpu.alloc(k * n * 4), gpu.alloc(m * n * 4), gpu.alloc(400)];
        gpu.write(a, A);
        gpu.write(b, B);
        // More kernels than one submitted batch holds (64), so several batches' timestamps are read.
        for (let i = 0; i < 70; i++) gpu.fill(filled, 100, i, 'f32');
        for (let i = 0; i < 3; i++) gpu.matmul(a, b, out, args);
        gpu.softmax(out, out, m, n);
        const got = (await gpu.read(out, 'f32', 0, m * n)) as Float32Array;
        for (const x of [a, b, out, filled]) gpu.free(x);
        return got;
      };
      const plain = await run();
      gpu.profileKernels = true;
      try {
        assert.equal(gpu.profileKernels, true);
        const profiled = await run();
        assert.deepEqual([...profiled], [...plain], 'profiling changes no result');
        const times = await gpu.takeKernelProfile();
        const count = (prefix: string): number => times.filter((t) => t.kernel.startsWith(prefix)).reduce((a, t) => a + t.count, 0);
        assert.equal(count('fill'), 70);
        assert.equal(count('matmul:false:false:false:splitK'), 3, 'the product is split along K');
        assert.equal(count('splitKSum'), 3);
        assert.equal(count('softmax'), 1);
        assert.ok(times.every((t) => t.ms >= 0 && Number.isFinite(t.ms)));
        assert.ok(times.reduce((a, t) => a + t.ms, 0) > 0, 'some device time is measured');
        assert.ok(times.every((t, i) => i === 0 || times[i - 1]!.ms >= t.ms), 'slowest first');
        assert.deepEqual(await gpu.takeKernelProfile(), [], 'each call reports what ran since the last');
      } finally {
        gpu.profileKernels = false;
      }
      assert.deepEqual(await gpu.takeKernelProfile(), [], 'nothing once profiling is off');
      assert.deepEqual([...(await run())], [...plain]);
    });
  });

  describe('subgroup reductions', { skip: skipSub }, () => {
    const shapes = [[1, 1], [3, 7], [2, 256], [5, 257], [4, 1000], [2, 4099]];
    test('softmax and log-softmax with their backward', async () => {
      for (const [rows, cols] of shapes) {
        await assertSameAsync(gpu, ref, `softmax [${rows},${cols}]`, softmaxFamilyCase(rng, rows!, cols!), 5e-5);
      }
    });

    test('row sum and max (an empty row gives 0 and -Infinity)', async () => {
      for (const [rows, cols] of [...shapes, [3, 0]]) {
        for (const op of ['sum', 'max'] as const) {
          await assertSameAsync(gpu, ref, `reduce ${op} [${rows},${cols}]`, {
            inputs: { x: rng.floats(rows! * cols!) }, outputs: { out: rows! }, compare: ['out'],
            call: (be, b) => be.reduce(op, b.x!, b.out!, rows!, cols!, 1),
          });
        }
      }
    });

    test('rmsnorm forward and backward', async () => {
      // Not dim 1: there dx = inv*dy*w*(1 - x^2/(x^2 + eps)) cancels to noise.
      for (const [rows, dim] of [[1, 2], ...shapes.slice(1)]) {
        await assertSameAsync(gpu, ref, `rmsnorm [${rows},${dim}]`, rmsnormCase(rng, rows!, dim!));
      }
    });

    test('log-prob and entropy', async () => {
      for (const [rows, vocab] of shapes) {
        await assertSameAsync(gpu, ref, `logprobEntropy [${rows},${vocab}]`, {
          inputs: { z: rng.floats(rows! * vocab!, 3), ids: Int32Array.from({ length: rows! }, () => rng.int(vocab!)) },
          outputs: { lp: rows!, ent: rows!, lse: rows! }, compare: ['lp', 'ent', 'lse'],
          call: (be, b) => be.logprobEntropy(b.z!, b.ids!, b.lp!, b.ent!, b.lse!, rows!, vocab!, 0.8),
        }, 2e-5);
      }
    });
  });
});

/** One PPO step of the digit-completion example with a KL loss, so a reference policy is loaded (frozen, in `refDtype`). */
async function ppoStep(refDtype: 'f32' | 'f16', dir: string): Promise<Record<string, number>> {
  process.chdir(repoRoot);
  const config = resolveConfig({
    file: join(repoRoot, 'examples/digit-completion.yaml'),
    overrides: ['trainer.device=webgpu', `trainer.frozen_weight_dtype=${refDtype}`, 'actor_rollout_ref.actor.use_kl_loss=true',
      'data.train_batch_size=8', 'data.max_response_length=8', 'actor_rollout_ref.actor.ppo_mini_batch_size=4',
      'critic.ppo_mini_batch_size=4', 'actor_rollout_ref.actor.ppo_micro_batch_size=2', 'critic.ppo_micro_batch_size=2',
      'trainer.total_training_steps=1', 'trainer.val_before_train=false', 'trainer.test_freq=-1', 'trainer.save_freq=-1',
      `trainer.default_local_dir=${dir}`, "trainer.logger=['jsonl']"],
  });
  await train(config, { progress: false, log: () => {} });
  return readMetricsJsonl(join(dir, 'metrics.jsonl'))[0]!.metrics;
}

/** Logits of `ids` from the model in `dir` on `backend` (frozen: f16 weights where the backend stores them). */
