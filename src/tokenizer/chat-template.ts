/**
 * Chat templates: the Jinja string of `tokenizer_config.json`, rendered with `@huggingface/jinja`
 * and the variables transformers' `apply_chat_template` provides.
 */
import { Template } from '@huggingface/jinja';
import type { ChatMessage, ChatTemplateOptions } from './types.js';

/** The special-token strings a template may refer to (`bos_token`, `eos_token`, ...). */
export type SpecialTokenStrings = Readonly<Partial<Record<'bos_token' | 'eos_token' | 'pad_token' | 'unk_token' | 'sep_token', string | null>>>;

export class ChatTemplate {
  readonly source: string;
  readonly #template: Template;
  readonly #tokens: SpecialTokenStrings;
  readonly #where: string;

  /** `where` names the file the template came from, for errors. */
  constructor(source: string, tokens: SpecialTokenStrings, where: string) {
    this.source = source;
    this.#tokens = tokens;
    this.#where = where;
    try {
      this.#template = new Template(source);
    } catch (e) {
      throw new Error(`${where}: chat_template does not parse: ${(e as Error).message}`);
    }
  }

  render(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    // `raise_exception`, `range` and `strftime_now` are globals of @huggingface/jinja already (it
    // refuses to redefine them); its raise_exception throws the template's message, wrapped below.
    const context: Record<string, unknown> = {
      ...this.#tokens,
      ...options.extra,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    try {
      return this.#template.render(context);
    } catch (e) {
      throw new Error(`${this.#where}: chat template failed: ${(e as Error).message}`);
    }
  }
}

/**
 * Picks the template text from a `chat_template` value: a string, or (older transformers) a list of
 * {name, template} or a {name: template} object, of which "default" is used.
 */
export function chatTemplateSource(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  const named = Array.isArray(value)
    ? value.map((v) => [(v as { name?: unknown }).name, (v as { template?: unknown }).template] as const)
    : typeof value === 'object' ? Object.entries(value as Record<string, unknown>) : [];
  const found = named.find(([name]) => name === 'default');
  if (found !== undefined && typeof found[1] === 'string') return found[1];
  throw new Error(`${where}: chat_template must be a string or contain a "default" template`);
}
