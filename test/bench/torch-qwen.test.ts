// The bench's Qwen-beside-PyTorch section in quick mode: its shape, both sides measured when
// python3 with torch is present, a reason when not (speed is shown by the bench, never asserted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/backend/index.js';
import { benchQwen } from '../../src/bench/torch-qwen.js';
import { formatQwen } from '../../src/bench/torch-qwen-table.js';
import { openblasCoretype } from '../../src/bench/torch-peer.js';

const isNum = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;

test('benchQwen --quick measures our decoding and training step, and PyTorch\'s where it is installed', async () => {
  const made: CpuBackend[] = [];
  const backend = async (): Promise<CpuBackend> => {
    made.push(await CpuBackend.create({ threads: 1 }));
    return made.at(-1)!;
  };
  const r = await benchQwen(backend, { quick: true, threads: 1, rounds: 1, log: () => {} });
  assert.equal(made.length, 3, 'a fresh backend for the training step and each decode batch');
  assert.deepEqual(r.ours.decode.map((d) => d.batch), [1, 64]);
  for (const d of r.ours.decode) assert.ok('tokensPerSecond' in d && isNum(d.tokensPerSecond), JSON.stringify(d));
  assert.ok(r.ours.trainStep && isNum(r.ours.trainStep.tokensPerSecond), r.ours.trainError);
  if (r.torch.available) {
    assert.deepEqual(r.torch.decode.map((d) => d.batch), [1, 64]);
    for (const d of r.torch.decode) assert.ok(isNum(d.tokensPerSecond));
    assert.ok(r.torch.trainStep && isNum(r.torch.trainStep.tokensPerSecond));
    assert.equal(r.ratios.decode.length, 2);
    assert.ok(r.ratios.decode.every((x) => isNum(x.oursOverTorch)) && isNum(r.ratios.trainStep));
    assert.equal(r.torch.blas.openblasCoretype, openblasCoretype() ?? r.torch.blas.openblasCoretype, 'the tuned kernel is asked for');
    if (r.torch.blas.kernel) assert.match(formatQwen(r), new RegExp(`BLAS ${r.torch.blas.kernel}`));
  } else {
    assert.match(r.torch.reason, /no python3 with torch/);
    assert.deepEqual(r.ratios.decode, []);
    assert.match(formatQwen(r), /PyTorch unavailable/);
  }
});
