/**
 * Hugging Face tokenizers: `tokenizer.json` through `@huggingface/tokenizers` (byte-level BPE and the
 * other HF models), `tokenizer_config.json` for the eos/pad/bos tokens and the chat template.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { ChatTemplate, chatTemplateSource } from './chat-template.js';
import { readJsonObject } from './files.js';
import type { ChatMessage, ChatTemplateOptions, DecodeOptions, EncodeOptions, Tokenizer } from './types.js';

/** A special token as tokenizer_config.json writes it: a string, or an AddedToken dict with `content`. */
function tokenString(value: unknown, key: string, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown }).content;
  if (typeof value === 'object' && typeof content === 'string') return content;
  throw new Error(`${file}: ${key} must be a token string or {"content": ...}, got ${JSON.stringify(value)}`);
}

export interface HfTokenizerOptions {
  /** Overrides tokenizer_config.json's eos_token (e.g. "<|im_end|>" for chat models). */
  readonly eosToken?: string;
  readonly padToken?: string;
}

export class HfTokenizer implements Tokenizer {
  readonly dir: string;
  readonly vocabSize: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  readonly #impl: HfTokenizerImpl;
  readonly #template: ChatTemplate | null;
  readonly #configFile: string;

  private constructor(dir: string, impl: HfTokenizerImpl, config: Record<string, unknown>, configFile: string, options: HfTokenizerOptions) {
    this.dir = dir;
    this.#impl = impl;
    this.#configFile = configFile;
    const vocab = impl.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    const tokens = {
      bos_token: tokenString(config.bos_token, 'bos_token', configFile),
      eos_token: options.eosToken ?? tokenString(config.eos_token, 'eos_token', configFile),
      pad_token: options.padToken ?? tokenString(config.pad_token, 'pad_token', configFile),
      unk_token: tokenString(config.unk_token, 'unk_token', configFile),
      sep_token: tokenString(config.sep_token, 'sep_token', configFile),
    };
    if (tokens.eos_token === null) throw new Error(`${configFile}: no eos_token; generation needs one (pass eosToken to override)`);
    this.eosTokenId = this.#idOf(tokens.eos_token, 'eos_token');
    // veRL sets pad = eos when the tokenizer has none (Qwen2.5 base models already use <|endoftext|> for both).
    this.padTokenId = tokens.pad_token === null ? this.eosTokenId : this.#idOf(tokens.pad_token, 'pad_token');
    this.bosTokenId = tokens.bos_token === null ? null : this.#idOf(tokens.bos_token, 'bos_token');
    const source = chatTemplateSource(config.chat_template, configFile);
    this.#template = source === null ? null : new ChatTemplate(source, tokens, configFile);
  }

  /** Loads `dir/tokenizer.json` and, when present, `dir/tokenizer_config.json`. */
  static load(dir: string, options: HfTokenizerOptions = {}): HfTokenizer {
    const tokenizerFile = join(dir, 'tokenizer.json');
    const configFile = join(dir, 'tokenizer_config.json');
    const json = readJsonObject(tokenizerFile);
    const config = existsSync(configFile) ? readJsonObject(configFile) : {};
    let impl: HfTokenizerImpl;
    try {
      impl = new HfTokenizerImpl(json, config);
    } catch (e) {
      throw new Error(`${tokenizerFile}: cannot build the tokenizer: ${(e as Error).message}`);
    }
    return new HfTokenizer(dir, impl, config, configFile, options);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.#impl.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`${this.dir}: decode: id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return ''; // the library rejects an empty list
    return this.#impl.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string {
    if (this.#template === null) throw new Error(`${this.#configFile}: no chat_template, so applyChatTemplate is unavailable`);
    return this.#template.render(messages, options);
  }

  tokenToId(token: string): number | undefined {
    return this.#impl.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#impl.id_to_token(id);
  }

  #idOf(token: string, key: string): number {
    const id = this.#impl.token_to_id(token);
    if (id === undefined) throw new Error(`${this.#configFile}: ${key} ${JSON.stringify(token)} is not in the vocabulary of ${join(this.dir, 'tokenizer.json')}`);
    return id;
  }
}
