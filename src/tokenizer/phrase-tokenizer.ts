/**
 * A character tokenizer with a few whole-phrase tokens, written as a Hugging Face tokenizer.json
 * (BPE model with no merges, so text outside the phrases splits into characters; the phrases are
 * non-special added tokens, which HF matches literally before the model runs). For tiny models on a
 * fixed prompt template: the Countdown `base` prompt is ~400 characters but ~20 tokens this way,
 * much as a real BPE vocabulary learned on that text would compress it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from './files.js';

export interface PhraseTokenizerSpec {
  /** The end-of-text token (also used for padding): id 0. */
  eosToken: string;
  /** Single characters, ids from 1 in this order. */
  chars: readonly string[];
  /** Multi-character tokens, after the characters; HF prefers the longest match. */
  phrases: readonly string[];
  modelMaxLength?: number;
}

interface AddedToken {
  id: number;
  content: string;
  single_word: false;
  lstrip: false;
  rstrip: false;
  normalized: false;
  special: boolean;
}

/** tokenizer.json content for `spec`. */
export function phraseTokenizerJson(spec: PhraseTokenizerSpec): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  const added: AddedToken[] = [];
  const addToken = (content: string, special: boolean, isAdded: boolean): void => {
    if (content in vocab) throw new Error(`phrase tokenizer: ${JSON.stringify(content)} appears twice`);
    const id = Object.keys(vocab).length;
    vocab[content] = id;
    if (isAdded) added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  };
  addToken(spec.eosToken, true, true);
  for (const c of spec.chars) {
    if ([...c].length !== 1) throw new Error(`phrase tokenizer: ${JSON.stringify(c)} is not one character`);
    addToken(c, false, false);
  }
  for (const p of spec.phrases) addToken(p, false, true);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    // Fuse joins the pieces with nothing between them (no decoder would join them with spaces).
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: [],
    },
  };
}

/** Writes tokenizer.json and tokenizer_config.json into `dir`; returns the vocabulary size. */
export function savePhraseTokenizer(dir: string, spec: PhraseTokenizerSpec): number {
  mkdirSync(dir, { recursive: true });
  const json = phraseTokenizerJson(spec);
  writeJsonAtomic(join(dir, 'tokenizer.json'), json, 2);
  writeJsonAtomic(join(dir, 'tokenizer_config.json'), {
    eos_token: spec.eosToken, pad_token: spec.eosToken, bos_token: null, model_max_length: spec.modelMaxLength ?? 2048,
  }, 2);
  return Object.keys((json.model as { vocab: Record<string, number> }).vocab).length;
}
