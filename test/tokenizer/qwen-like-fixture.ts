/**
 * Builds a tiny Qwen2-style tokenizer folder in a temp dir: byte-level BPE (all 256 byte symbols plus
 * a few merges), Qwen2's pre-tokenizer regex (every digit its own piece), the added special tokens
 * `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`, and a Qwen2-like chat template.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** GPT-2's byte -> printable-character table (`bytes_to_unicode`), in its own order. */
export function bytesToUnicode(): [number, string][] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return bs.map((b, i) => [b, String.fromCodePoint(cs[i]!)]);
}

export const merges = ['t h', 'th e', 'Ġ the', 'Ġ w', 'o r', 'l d', 'Ġw or', 'Ġwor ld', 'H e', 'l l', 'He ll', 'Hell o'];
export const specialTokens = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

/** Qwen2's split pattern (from its tokenizer.json). */
const qwen2Pattern =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const qwenLikeChatTemplate = [
  '{%- for message in messages %}',
  "    {%- if loop.first and messages[0]['role'] != 'system' %}",
  "        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}",
  '    {%- endif %}',
  "    {%- if message['role'] == 'tool' %}",
  "        {{- raise_exception('tool messages are not supported') }}",
  '    {%- endif %}',
  "    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}",
  '{%- endfor %}',
  '{%- if add_generation_prompt %}',
  "    {{- '<|im_start|>assistant\\n' }}",
  '{%- endif %}',
].join('\n');

export interface QwenLikeFolder {
  dir: string;
  vocab: Record<string, number>;
  /** The id of each special token. */
  special: Record<string, number>;
}

export function makeQwenLikeTokenizer(): QwenLikeFolder {
  const vocab: Record<string, number> = {};
  for (const [, ch] of bytesToUnicode()) vocab[ch] = Object.keys(vocab).length;
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  const special: Record<string, number> = {};
  const addedTokens = specialTokens.map((content) => {
    special[content] = Object.keys(vocab).length + Object.keys(special).length;
    return { id: special[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: qwen2Pattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges,
    },
  };
  const tokenizerConfig = {
    add_prefix_space: false,
    bos_token: null,
    chat_template: qwenLikeChatTemplate,
    clean_up_tokenization_spaces: false,
    eos_token: '<|endoftext|>',
    pad_token: '<|endoftext|>',
    errors: 'replace',
    model_max_length: 131072,
    split_special_tokens: false,
    tokenizer_class: 'Qwen2Tokenizer',
    unk_token: null,
  };
  const dir = mkdtempSync(join(tmpdir(), 'tinyzero-tok-'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  return { dir, vocab, special };
}
