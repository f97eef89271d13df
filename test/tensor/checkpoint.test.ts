// Activation checkpointing (tensor/checkpoint.ts, enable_gradient_checkpointing): the same values and
// gradients as the plain graph, parameters captured by the block included, and fewer bytes held
// between the forward and the backward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import * as T from '../../src/tensor/index.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

test('gradients against finite differences (float64 reference): two checkpointed blocks in a row', () => {
  gradCheck([{ shape: [3, 4] }, { shape: [4, 4] }, { shape: [4] }], (x, w, b) => {
    const block = ([h]: T.Tensor[]) => T.silu(T.linear(h!, w!, b!)).mul(h!);
    return T.checkpoint(block, [T.checkpoint(block, [x!])]);
  });
});

test('cpu: values and every gradient equal the plain graph, with an input that needs no gradient', async () => {
  const be = await CpuBackend.create({ threads: 2 });
  T.setBackend(be);
  const rng = new Rng(9);
  const xv = Float32Array.from({ length: 6 * 8 }, () => rng.normal());
  const wv = Float32Array.from({ length: 8 * 8 }, () => rng.normal() * 0.3);
  const results = [false, true].map((ckpt) => T.tidy(() => {
    const x = T.tensor(xv, [6, 8]);
    const w = T.tensor(wv, [8, 8]);
    w.requiresGrad = true;
    let h = x;
    for (let i = 0; i < 3; i++) {
      const block = ([a]: T.Tensor[]) => T.add(a!, T.rmsnorm(T.linear(a!, w), T.ones([8]), 1e-6));
      h = ckpt ? T.checkpoint(block, [h]) : block([h]);
    }
    const loss = T.sum(T.mul(h, h));
    loss.backward();
    const out = { loss: loss.dataSync()[0]!, dw: w.grad!.dataSync() as Float32Array };
    w.grad!.dispose();
    return out;
  }));
  assert.ok(Math.abs(results[1]!.loss - results[0]!.loss) <= 1e-5 * Math.abs(results[0]!.loss), `loss ${results[1]!.loss} vs ${results[0]!.loss}`);
  for (let i = 0; i < results[0]!.dw.length; i++) {
    assert.ok(Math.abs(results[1]!.dw[i]! - results[0]!.dw[i]!) <= 1e-4 * (1 + Math.abs(results[0]!.dw[i]!)), `dW[${i}]`);
  }
  be.destroy();
});

test('reference: between the forward and the backward only the blocks\' outputs are held', () => {
  const be = new ReferenceBackend();
  T.setBackend(be);
  const held = [false, true].map((ckpt) => T.tidy(() => {
    const w = T.tensor(Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i) * 0.1), [64, 64]);
    w.requiresGrad = true;
    const before = be.memoryStats().bytesInUse;
    let h = T.tensor(Float32Array.from({ length: 32 * 64 }, (_, i) => Math.cos(i)), [32, 64]);
    for (let i = 0; i < 4; i++) {
      // Five intermediates of the block's size each, kept by the plain graph for its backward.
      const block = ([a]: T.Tensor[]) => T.add(a!, T.mul(T.silu(T.linear(a!, w)), T.exp(T.neg(T.square(a!)))));
      h = ckpt ? T.checkpoint(block, [h]) : block([h]);
    }
    const bytes = be.memoryStats().bytesInUse - before;
    T.sum(h).backward();
    w.grad!.dispose();
    return bytes;
  }));
  const block = 32 * 64 * 4;
  assert.ok(held[0]! >= 4 * 5 * block, `plain graph holds ${held[0]} B`);
  assert.ok(held[1]! <= 5 * block + 4096, `checkpointed holds ${held[1]} B: the input and four outputs`);
});
