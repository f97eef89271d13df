// tinyzero sft: prompt/response masking against a hand computation, loss falling on a toy corpus,
// and resume from a checkpoint reproducing the uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../src/backend/index.js';
import { CausalLM } from '../../src/models/llama.js';
import { loadModelConfig } from '../../src/models/config.js';
import { loadCausalLM } from '../../src/models/load.js';
import { makeMicroBatch, microBatchLoss, sft, toExample } from '../../src/sft/index.js';
import { setBackend, tensor, tidy } from '../../src/tensor/index.js';
import { CharTokenizer, loadTokenizer } from '../../src/tokenizer/index.js';
import { setup, sftConfig, tinyModelDir } from '../helpers/sft-fixture.js';

test('pairs put the loss on response tokens (and EOS) only; text rows on every token', () => {
  const tok = new CharTokenizer(['a', 'b', 'c', 'x', 'y']);
  const options = { textKey: 'text', promptKey: 'prompt', responseKey: 'response', maxLength: 16, addEos: true };
  const pair = toExample({ prompt: 'ab', response: 'xy' }, tok, options, 'row');
  assert.deepEqual(pair.ids, [...tok.encode('abxy'), tok.eosTokenId]);
  assert.deepEqual(pair.targetMask, [0, 0, 1, 1, 1]);
  const text = toExample({ text: 'abc' }, tok, { ...options, addEos: false }, 'row');
  assert.deepEqual(text.targetMask, [1, 1, 1]);
  const cut = toExample({ prompt: 'ab', response: 'xyxy' }, tok, { ...options, maxLength: 4 }, 'row');
  assert.deepEqual(cut.targetMask, [0, 0, 1, 1]);
  assert.throws(() => toExample({ prompt: 'ab' }, tok, options, 'row 7'), /row 7: needs a string 'text', or string 'prompt' and 'response'/);
});

test('the micro-batch loss equals -Σ log p(response tokens) / N computed by hand from the logits', async () => {
  const backend = await createBackend('reference');
  setBackend(backend);
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-sft-mask-'));
  try {
    tinyModelDir(tmp);
    const tok = loadTokenizer(tmp);
    const model = new CausalLM(loadModelConfig(tmp), { seed: 3, backend });
    const options = { textKey: 'text', promptKey: 'prompt', responseKey: 'response', maxLength: 16, addEos: true };
    const examples = [toExample({ prompt: 'Q:12', response: 'A:3' }, tok, options, 'a'), toExample({ prompt: 'Q:1', response: 'A:24' }, tok, options, 'b')];
    const normaliser = 7;
    const mb = makeMicroBatch(examples, tok.padTokenId);
    const loss = ((await microBatchLoss(model, mb, normaliser).data()) as Float32Array)[0]!;
    // By hand: each example alone, unpadded; log-softmax in float64; only response targets count.
    let expected = 0;
    for (const e of examples) {
      const T = e.ids.length;
      const logits = (await tidy(() => model.forward(tensor(Int32Array.from(e.ids), [1, T], 'i32'), { positions: tensor(Int32Array.from(e.ids.map((_, t) => t)), [1, T], 'i32') })).data()) as Float32Array;
      const V = logits.length / T;
      for (let t = 1; t < T; t++) {
        if (e.targetMask[t] === 0) continue;
        const row = Array.from(logits.subarray((t - 1) * V, t * V));
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        expected -= row[e.ids[t]!]! - lse;
      }
    }
    // Targets: 'A:' phrase, one or two digits, EOS -> 3 + 4 = 7 response tokens across the two rows.
    assert.equal(mb.targetTokens, 7);
    assert.ok(Math.abs(loss - expected / normaliser) < 1e-4, `loss ${loss} vs hand ${expected / normaliser}`);
    model.dispose();
  } finally {
    backend.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('SFT from scratch: the loss falls on a toy corpus and the checkpoint is an HF folder with the tokenizer', { timeout: 180_000 }, async () => {
  const tmp = setup();
  try {
    const s = await sft(sftConfig(tmp, ['sft.total_training_steps=40', 'sft.save_freq=-1']), { progress: false, log: () => {} });
    const first = s.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = s.losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(last < 0.6 * first, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    assert.ok(s.finalValLoss !== null && s.finalValLoss < 0.6 * first);
    const dir = join(tmp, 'run', 'global_step_40', 'model');
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'optimizer.safetensors']) assert.ok(existsSync(join(dir, f)), f);
    assert.ok(existsSync(join(tmp, 'run', 'metrics.jsonl')));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('sft.model.enable_gradient_checkpointing: the same losses as without', { timeout: 180_000 }, async () => {
  const tmp = setup();
  try {
    const kept = await sft(sftConfig(tmp, ['sft.total_training_steps=4', 'sft.save_freq=-1', `trainer.default_local_dir=${join(tmp, 'kept')}`]), { progress: false, log: () => {} });
    const lines: string[] = [];
    const checkpointed = await sft(sftConfig(tmp, ['sft.total_training_steps=4', 'sft.save_freq=-1', 'sft.model.enable_gradient_checkpointing=true',
      `trainer.default_local_dir=${join(tmp, 'checkpointed')}`]), { progress: false, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /parameters \(from scratch\), layers checkpointed; backend cpu/.test(l)), lines.join('\n'));
    assert.equal(checkpointed.losses.length, 4);
    checkpointed.losses.forEach((l, i) => assert.ok(Math.abs(l - kept.losses[i]!) <= 1e-5 * Math.abs(kept.losses[i]!), `step ${i + 1}: ${l} vs ${kept.losses[i]}`));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('resuming from a checkpoint continues exactly as the uninterrupted run', { timeout: 180_000 }, async () => {
  const tmp = setup();
  try {
    const full = await sft(sftConfig(tmp, ['sft.total_training_steps=8', 'sft.save_freq=4']), { progress: false, log: () => {} });
    // A second run folder holding only the step-4 checkpoint, as if the first run had died after it.
    const other = join(tmp, 'other');
    mkdirSync(other);
    cpSync(join(tmp, 'run', 'global_step_4'), join(other, 'global_step_4'), { recursive: true });
    const resumed = await sft(sftConfig(tmp, ['sft.total_training_steps=8', 'sft.save_freq=4', `trainer.default_local_dir=${other}`]), { progress: false, log: () => {} });
    assert.equal(resumed.resumedFrom, 4);
    assert.deepEqual(resumed.losses, full.losses.slice(4));
    const backend = await createBackend('cpu', { threads: 1 });
    setBackend(backend);
    const a = loadCausalLM(join(tmp, 'run', 'global_step_8', 'model'), { backend });
    const b = loadCausalLM(join(other, 'global_step_8', 'model'), { backend });
    const [sa, sb] = [await a.stateDict(), await b.stateDict()];
    for (const [name, t] of sa) assert.deepEqual(sb.get(name)!.data, t.data, name);
    a.dispose();
    b.dispose();
    backend.destroy();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
