/** The tokenizer contract shared by the Hugging Face and character tokenizers. */

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export interface EncodeOptions {
  /** Add the tokenizer's own special tokens (e.g. a BOS from its post-processor). Default true, as in transformers. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (eos, pad, ...) from the text. Default false, as in transformers. */
  readonly skipSpecialTokens?: boolean;
}

export interface ChatTemplateOptions {
  /** Append the prompt that starts the assistant's turn. Default false, as in transformers. */
  readonly addGenerationPrompt?: boolean;
  /** Further template variables (e.g. `tools`, `enable_thinking`). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export interface Tokenizer {
  /** One more than the largest id the tokenizer can produce (added tokens included). */
  readonly vocabSize: number;
  readonly eosTokenId: number;
  /** Falls back to eos when the tokenizer has no pad token, as veRL does. */
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** Renders the chat template to text (tokenize it with `encode`, addSpecialTokens false). */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined;
  /** The token string of an id, or undefined when out of range. */
  idToToken(id: number): string | undefined;
}
