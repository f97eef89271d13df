// A model whose embedding has more rows than its tokenizer has ids (Qwen2.5: 151,936 rows, 151,665
// ids) can sample the ids in between. The trainer's decodes (rewards, behaviour metrics, validation
// samples, the step's samples and the story) read them as empty text, as `generate` does, instead of
// stopping the run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { readParquet, writeParquet } from '../../src/data/index.js';
import { generate } from '../../src/generation/index.js';
import { loadCausalLM } from '../../src/models/load.js';
import { rawToFloat32, readSafetensors } from '../../src/models/safetensors.js';
import { writeSafetensors } from '../../src/models/safetensors-write.js';
import * as T from '../../src/tensor/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { readMetricsJsonl } from '../../src/tracking/index.js';
import { train } from '../../src/trainer/index.js';

const root = new URL('../../../', import.meta.url).pathname;

/**
 * The bundled tiny Llama (16 rows, its tokenizer fewer ids) with 16 more rows: row 16 + j embeds as
 * row j and its output weight is 4x row j's, so wherever token j has a positive logit its twin past
 * the tokenizer is likelier.
 */
function widenedTinyLlama(dir: string): void {
  const src = join(root, 'assets/models/tiny-llama');
  cpSync(src, dir, { recursive: true });
  const { tensors } = readSafetensors(join(src, 'model.safetensors'));
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of tensors) {
    const data = rawToFloat32(t, name);
    if (name !== 'lm_head.weight' && name !== 'model.embed_tokens.weight') {
      out[name] = { shape: [...t.shape], data };
      continue;
    }
    const [rows, hidden] = t.shape as [number, number];
    const wide = new Float32Array(2 * rows * hidden);
    wide.set(data);
    const scale = name === 'lm_head.weight' ? 4 : 1;
    for (let i = 0; i < rows * hidden; i++) wide[rows * hidden + i] = scale * data[i]!;
    out[name] = { shape: [2 * rows, hidden], data: wide };
  }
  writeSafetensors(join(dir, 'model.safetensors'), out);
  const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: 2 * (config.vocab_size as number) }));
}

test('a model that samples ids past its tokenizer trains, validates and tells its story', { timeout: 180_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-wide-vocab-'));
  try {
    const model = join(tmp, 'model');
    widenedTinyLlama(model);
    const tokenizer = loadTokenizer(model);
    const table = await readParquet(join(root, 'assets/data/digit-completion/test.parquet'));

    // The model does draw those ids, and the tokenizer alone refuses them.
    const be = await CpuBackend.create({ threads: 1 });
    try {
      T.setBackend(be);
      const lm = loadCausalLM(model, { backend: be, frozen: true });
      const prompts = table.rows.slice(0, 8).map((r) => tokenizer.encode(String((r.prompt as { content: string }[])[0]!.content)));
      const out = await generate(lm, prompts, { maxNewTokens: 10, temperature: 1, seed: 3 });
      lm.dispose();
      const past = Array.from(out.responseIds).filter((id, i) => out.responseMask[i] === 1 && id >= tokenizer.vocabSize);
      assert.ok(past.length > 0, `no id past the tokenizer's ${tokenizer.vocabSize} was sampled`);
      assert.throws(() => tokenizer.decode(past), /outside the vocabulary/);
    } finally {
      be.destroy();
    }

    const val = join(tmp, 'val.parquet');
    writeParquet(val, table.rows.slice(0, 8), table.columns);
    process.chdir(root);
    const config = await resolveConfig({
      file: join(root, 'examples', 'digit-completion-grpo.yaml'),
      overrides: [`actor_rollout_ref.model.path=${model}`, `data.val_files=${val}`, 'data.max_response_length=10',
        `trainer.default_local_dir=${join(tmp, 'run')}`, "trainer.logger=['jsonl']", 'trainer.threads=1',
        'data.train_batch_size=8', 'actor_rollout_ref.rollout.n=4', 'actor_rollout_ref.actor.ppo_mini_batch_size=8',
        'actor_rollout_ref.actor.ppo_micro_batch_size=8', 'actor_rollout_ref.actor.ppo_epochs=1', 'actor_rollout_ref.rollout.micro_batch_size=32',
        'trainer.total_training_steps=1', 'trainer.test_freq=1', 'trainer.save_freq=-1', 'trainer.val_before_train=true'],
    });
    const summary = await train(config, { progress: false, log: () => {} });
    assert.equal(summary.lastStep, 1);
    const records = readMetricsJsonl(join(tmp, 'run', 'metrics.jsonl'));
    const step1 = records.find((r) => r.step === 1)!.metrics;
    for (const key of ['critic/score/mean', 'actor/pg_loss', 'response_length/mean']) assert.ok(Number.isFinite(step1[key]), `${key} = ${step1[key]}`);
    assert.ok(Object.keys(step1).some((k) => k.startsWith('val/test_score/')), 'validation ran after the step');
    assert.match(readFileSync(join(tmp, 'run', 'story.md'), 'utf8'), /\S/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
