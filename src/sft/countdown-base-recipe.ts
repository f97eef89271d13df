/**
 * Inputs of the bundled Countdown base model's SFT run (examples/countdown-base-sft.yaml): the
 * corpus files and the from-scratch model folder (config.json + tokenizer, no weights). Used by
 * `npm run make-base` (scripts/make-base.mjs). It lives beside the SFT job it feeds: it writes data,
 * model and tokenizer files, which the tasks layer (below all three) must not import.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonl } from '../data/index.js';
import { saveModelConfig, parseModelConfig, loadModelConfig } from '../models/config.js';
import { readSafetensors, rawToFloat32 } from '../models/safetensors.js';
import { writeSafetensors } from '../models/safetensors-write.js';
import { phraseTokenizerJson, savePhraseTokenizer } from '../tokenizer/phrase-tokenizer.js';
import { countdownCorpus, countdownTokenizerSpec, STOP_IN_VERDICT_PIECES, type CorpusOptions } from '../tasks/countdown-corpus.js';

export interface BaseModelShape {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
}

/** The bundled model's shape: Qwen2-style, tied embeddings, head_dim 32. */
export const COUNTDOWN_BASE_SHAPE: BaseModelShape = { hidden: 128, layers: 4, heads: 4, intermediate: 512 };

/**
 * config.json + tokenizer files of an untrained model in `dir`. Phases 1 and 2 train without the
 * stop-in-verdict tokens (`stopInVerdict: false`); phase 3 adds them (extendWithStopInVerdict).
 */
export function writeInitModel(dir: string, shape: BaseModelShape = COUNTDOWN_BASE_SHAPE, options: { stopInVerdict?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  const vocab = savePhraseTokenizer(dir, { ...countdownTokenizerSpec(options), modelMaxLength: 512 });
  saveModelConfig(dir, parseModelConfig({
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: shape.hidden, intermediate_size: shape.intermediate,
    num_hidden_layers: shape.layers, num_attention_heads: shape.heads, num_key_value_heads: shape.heads, vocab_size: vocab,
    max_position_embeddings: 512, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
    bos_token_id: null, eos_token_id: 0, pad_token_id: 0, hidden_act: 'silu', initializer_range: 0.02, torch_dtype: 'bfloat16',
  }));
}

/** train.jsonl and val.jsonl of the synthetic corpus in `dir` (val from a different seed). */
export function writeCorpus(dir: string, trainRows: number, valRows: number, seed: number, options: CorpusOptions = {}): { train: string; val: string } {
  mkdirSync(dir, { recursive: true });
  const train = join(dir, 'train.jsonl');
  const val = join(dir, 'val.jsonl');
  writeJsonl(train, countdownCorpus(trainRows, seed, options));
  writeJsonl(val, countdownCorpus(valRows, seed + 1_000_000, options));
  return { train, val };
}

/**
 * Copies the model in `from` (trained with `stopInVerdict: false`) to `to` with the tokenizer that has
 * the stop-in-verdict tokens: their (tied) embedding rows start as copies of ` yes.` and ` no.`, so the
 * model first splits each verdict's probability evenly between going on and stopping, and SFT on the
 * re-tokenized corpus then learns the corpus's stop chances for each.
 */
export function extendWithStopInVerdict(from: string, to: string): void {
  const config = loadModelConfig(from);
  const { tensors, metadata } = readSafetensors(join(from, 'model.safetensors'));
  const name = 'model.embed_tokens.weight';
  const embed = tensors.get(name);
  if (!embed || embed.shape.length !== 2) throw new Error(`extendWithStopInVerdict: ${from}/model.safetensors has no 2-D ${name}`);
  const [rows, width] = embed.shape as [number, number];
  if (rows !== config.vocab_size || !config.tie_word_embeddings) {
    throw new Error(`extendWithStopInVerdict: expected ${from} to tie its embeddings over ${config.vocab_size} rows, got ${rows} rows, tie_word_embeddings ${config.tie_word_embeddings}`);
  }
  const ids = (JSON.parse(readFileSync(join(from, 'tokenizer.json'), 'utf8')) as { model?: { vocab?: Record<string, number> } }).model?.vocab ?? {};
  if (STOP_IN_VERDICT_PIECES.some((piece) => piece in ids)) throw new Error(`extendWithStopInVerdict: ${from}/tokenizer.json already has the stop-in-verdict tokens`);
  const spec = { ...countdownTokenizerSpec({ stopInVerdict: true }), modelMaxLength: 512 };
  const vocab = Object.keys((phraseTokenizerJson(spec).model as { vocab: Record<string, number> }).vocab).length;
  // checked before anything is written, so a wrong `from` leaves no half-made `to`
  if (vocab !== rows + STOP_IN_VERDICT_PIECES.length) throw new Error(`extendWithStopInVerdict: ${from} has ${rows} tokens, expected ${vocab - STOP_IN_VERDICT_PIECES.length}`);
  savePhraseTokenizer(to, spec);
  const old = rawToFloat32(embed, name);
  const grown = new Float32Array(vocab * width);
  grown.set(old);
  STOP_IN_VERDICT_PIECES.forEach((piece, i) => {
    const verdict = piece.slice(0, piece.indexOf('.') + 1); // ' yes.' / ' no.'
    const id = ids[verdict];
    if (id === undefined) throw new Error(`extendWithStopInVerdict: ${from}/tokenizer.json has no ${JSON.stringify(verdict)} token`);
    grown.set(old.subarray(id * width, (id + 1) * width), (rows + i) * width);
  });
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [key, t] of tensors) out.set(key, key === name ? { shape: [vocab, width], data: grown } : { shape: t.shape, data: rawToFloat32(t, key) });
  writeSafetensors(join(to, 'model.safetensors'), out, { dtype: 'BF16', metadata });
  saveModelConfig(to, { ...config, vocab_size: vocab });
}
