/**
 * The character tokenizer of veRL's digit-completion test (`envs/digit_completion/tokenizer.py`), used
 * by the tiny-llama fixture: ids S=0 (sep), E=1 (eos), P=2 (pad), U=3 (unknown), then one id per
 * character from 4, in the order of `char_ords` in tokenizer_config.json.
 *
 * As in the original (a transformers `PreTrainedTokenizer`), the letters S/E/P/U in text are the
 * special tokens themselves, so the chat template's trailing `S` encodes to the sep id; characters
 * outside the vocabulary encode to U. No special tokens are ever added by `encode`.
 */
import { join } from 'node:path';
import { ChatTemplate, chatTemplateSource } from './chat-template.js';
import { readJsonObject, writeJsonAtomic } from './files.js';
import type { ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions, Tokenizer } from './types.js';

/** The special tokens, in id order. */
export const charSpecialTokens = ['S', 'E', 'P', 'U'] as const;
export const charSepId = 0;
export const charEosId = 1;
export const charPadId = 2;
export const charUnkId = 3;

/** The original's template: the user content, then the sep token `S` when a generation prompt is asked for. */
export const defaultCharChatTemplate =
  "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
  "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% set role = message['role'] %}{{ message['content'] }}{% endfor %}{% if add_generation_prompt %}{{ sep_token }}{% endif %}";

export interface CharTokenizerOptions {
  readonly chatTemplate?: string;
  readonly modelMaxLength?: number;
  /** Names the source in errors (a file path). */
  readonly where?: string;
}

export class CharTokenizer implements Tokenizer {
  /** The vocabulary characters, id 4 onwards. */
  readonly chars: readonly string[];
  readonly modelMaxLength: number;
  readonly vocabSize: number;
  readonly eosTokenId = charEosId;
  readonly padTokenId = charPadId;
  readonly bosTokenId = null;
  readonly #ids: ReadonlyMap<string, number>;
  readonly #template: ChatTemplate;

  constructor(chars: readonly string[], options: CharTokenizerOptions = {}) {
    const where = options.where ?? 'CharTokenizer';
    const ids = new Map<string, number>(charSpecialTokens.map((t, i) => [t, i]));
    chars.forEach((c, i) => {
      if ([...c].length !== 1) throw new Error(`${where}: vocabulary entry ${i} ${JSON.stringify(c)} is not one character`);
      if (ids.has(c)) {
        const what = (charSpecialTokens as readonly string[]).includes(c) ? 'a special token' : 'a duplicate';
        throw new Error(`${where}: vocabulary entry ${i} ${JSON.stringify(c)} is ${what}`);
      }
      ids.set(c, i + charSpecialTokens.length);
    });
    this.chars = [...chars];
    this.#ids = ids;
    this.vocabSize = ids.size;
    this.modelMaxLength = options.modelMaxLength ?? 2048;
    this.#template = new ChatTemplate(
      options.chatTemplate ?? defaultCharChatTemplate,
      { sep_token: 'S', eos_token: 'E', pad_token: 'P', unk_token: 'U', bos_token: null },
      where,
    );
  }

  /** From Unicode code points, as `char_ords` stores them. */
  static fromCharOrds(ords: readonly number[], options: CharTokenizerOptions = {}): CharTokenizer {
    const where = options.where ?? 'CharTokenizer';
    const chars = ords.map((o, i) => {
      if (!Number.isInteger(o) || o < 0 || o > 0x10ffff) throw new Error(`${where}: char_ords[${i}] = ${JSON.stringify(o)} is not a code point`);
      return String.fromCodePoint(o);
    });
    return new CharTokenizer(chars, options);
  }

  /** Reads `dir/tokenizer_config.json` (its `char_ords`, `model_max_length`, `chat_template`). */
  static load(dir: string): CharTokenizer {
    const file = join(dir, 'tokenizer_config.json');
    const config = readJsonObject(file);
    const ords = config.char_ords;
    if (!Array.isArray(ords)) throw new Error(`${file}: char_ords must be a list of code points`);
    const maxLength = config.model_max_length;
    if (maxLength !== undefined && !(Number.isSafeInteger(maxLength) && (maxLength as number) > 0)) {
      throw new Error(`${file}: model_max_length must be a positive integer, got ${JSON.stringify(maxLength)}`);
    }
    return CharTokenizer.fromCharOrds(ords as number[], {
      where: file,
      chatTemplate: chatTemplateSource(config.chat_template, file) ?? undefined,
      modelMaxLength: maxLength as number | undefined,
    });
  }

  /** Writes `dir/tokenizer_config.json` in the original's layout; returns the file. */
  save(dir: string): string {
    const file = join(dir, 'tokenizer_config.json');
    const config = {
      char_ords: this.chars.map((c) => c.codePointAt(0)),
      model_max_length: this.modelMaxLength,
      chat_template: this.#template.source,
    };
    writeJsonAtomic(file, config, 4);
    return file;
  }

  /** `addSpecialTokens` changes nothing: the original adds no BOS/EOS either. */
  encode(text: string, _options?: EncodeOptions): number[] {
    const out: number[] = [];
    for (const c of text) out.push(this.#ids.get(c) ?? charUnkId);
    return out;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    let out = '';
    for (const id of ids) {
      if (options.skipSpecialTokens && id >= 0 && id < charSpecialTokens.length) continue;
      const token = this.idToToken(id);
      if (token === undefined) throw new Error(`CharTokenizer.decode: id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      out += token;
    }
    return out;
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string {
    return this.#template.render(messages, options);
  }

  tokenToId(token: string): number | undefined {
    return this.#ids.get(token);
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return undefined;
    return id < charSpecialTokens.length ? charSpecialTokens[id] : this.chars[id - charSpecialTokens.length];
  }
}
