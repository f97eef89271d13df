// A tiny SFT setup shared by the SFT tests: a 2-layer Qwen2-style model folder with a phrase
// tokenizer, a toy corpus of text rows and prompt/response pairs, and a config over them.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { writeJsonl } from '../../src/data/index.js';
import { parseModelConfig, saveModelConfig } from '../../src/models/config.js';
import { savePhraseTokenizer } from '../../src/tokenizer/phrase-tokenizer.js';

const chars = [...'abcdefghij0123456789 =+'];

export function tinyModelDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const vocab = savePhraseTokenizer(dir, { eosToken: '<eos>', chars, phrases: ['Q:', 'A:'] });
  saveModelConfig(dir, parseModelConfig({
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
    num_attention_heads: 2, num_key_value_heads: 2, vocab_size: vocab, max_position_embeddings: 64, rms_norm_eps: 1e-6,
    rope_theta: 10000, tie_word_embeddings: true, eos_token_id: 0, torch_dtype: 'float32',
  }));
}

export function toyRows(n: number): ({ text: string } | { prompt: string; response: string })[] {
  // A pattern a small model learns in a few dozen steps: the answer repeats the question's digits.
  return Array.from({ length: n }, (_, i) => {
    const d = String(i % 10);
    return i % 3 === 0 ? { text: `abc ${d}${d}${d} abc` } : { prompt: `Q:${d}+${d}`, response: `A:${d}${d} ${d}${d}` };
  });
}

export function sftConfig(tmp: string, overrides: string[] = []) {
  return resolveConfig({
    overrides: [
      `sft.train_files=${join(tmp, 'train.jsonl')}`, `sft.val_files=${join(tmp, 'val.jsonl')}`, `sft.model.path=${join(tmp, 'init')}`,
      'sft.max_length=32', 'sft.train_batch_size=8', 'sft.micro_batch_size=4', 'sft.optim.lr=1e-2', 'sft.test_freq=5',
      `trainer.default_local_dir=${join(tmp, 'run')}`, "trainer.logger=['jsonl']", 'trainer.threads=1', 'sft.max_ckpt_to_keep=null',
      ...overrides,
    ],
  });
}

export function setup(): string {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-sft-'));
  tinyModelDir(join(tmp, 'init'));
  writeJsonl(join(tmp, 'train.jsonl'), toyRows(96));
  writeJsonl(join(tmp, 'val.jsonl'), toyRows(12));
  return tmp;
}

