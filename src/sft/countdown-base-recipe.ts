/**
 * Inputs of the bundled Countdown base model's SFT run (examples/countdown-base-sft.yaml): the
 * corpus files and the from-scratch model folder (config.json + tokenizer, no weights). Used by
 * `npm run make-base` (scripts/make-base.mjs). It lives beside the SFT job it feeds: it writes data,
 * model and tokenizer files, which the tasks layer (below all three) must not import.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonl } from '../data/index.js';
import { saveModelConfig, parseModelConfig } from '../models/config.js';
import { savePhraseTokenizer } from '../tokenizer/phrase-tokenizer.js';
import { countdownCorpus, countdownTokenizerSpec } from '../tasks/countdown-corpus.js';

export interface BaseModelShape {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
}

/** The bundled model's shape: Qwen2-style, tied embeddings, head_dim 32. */
export const COUNTDOWN_BASE_SHAPE: BaseModelShape = { hidden: 128, layers: 4, heads: 4, intermediate: 384 };

/** config.json + tokenizer files of an untrained model in `dir`. */
export function writeInitModel(dir: string, shape: BaseModelShape = COUNTDOWN_BASE_SHAPE): void {
  mkdirSync(dir, { recursive: true });
  const vocab = savePhraseTokenizer(dir, { ...countdownTokenizerSpec(), modelMaxLength: 512 });
  saveModelConfig(dir, parseModelConfig({
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: shape.hidden, intermediate_size: shape.intermediate,
    num_hidden_layers: shape.layers, num_attention_heads: shape.heads, num_key_value_heads: shape.heads, vocab_size: vocab,
    max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
    bos_token_id: null, eos_token_id: 0, pad_token_id: 0, hidden_act: 'silu', initializer_range: 0.02, torch_dtype: 'bfloat16',
  }));
}

/** train.jsonl and val.jsonl of the synthetic corpus in `dir` (val from a different seed). */
export function writeCorpus(dir: string, trainRows: number, valRows: number, seed: number): { train: string; val: string } {
  mkdirSync(dir, { recursive: true });
  const train = join(dir, 'train.jsonl');
  const val = join(dir, 'val.jsonl');
  writeJsonl(train, countdownCorpus(trainRows, seed));
  writeJsonl(val, countdownCorpus(valRows, seed + 1_000_000));
  return { train, val };
}
