/**
 * The request bodies of `/v1/completions` and `/v1/chat/completions`, checked and turned into one
 * internal shape. Unknown fields are ignored (clients send many); fields whose effect this server
 * does not implement (echo, suffix, penalties, logit_bias, best_of) are refused when set to anything
 * but their no-op value, rather than silently ignored.
 */
import type { ChatMessage } from '../tokenizer/index.js';
import { badParam } from './errors.js';

/** A prompt as text (tokenized by the server) or as token ids. */
export type PromptInput = { readonly text: string } | { readonly ids: readonly number[] };

export interface SamplingRequest {
  /** The requested model id; null when the client sent none (the base model is used). */
  model: string | null;
  /** null: the endpoint's default (16 for completions as OpenAI, the rest of the context for chat). */
  maxTokens: number | null;
  temperature: number;
  topP: number;
  /** -1 or 0: off. */
  topK: number;
  n: number;
  seed: number | null;
  stop: string[];
  stopTokenIds: number[];
  ignoreEos: boolean;
  /** Alternatives per position to list; null: no log-probs. Only the sampled token is ever listed. */
  logprobs: number | null;
  /** vLLM: logprob tokens written `token_id:N` instead of their text. */
  returnTokensAsTokenIds: boolean;
  stream: boolean;
  includeUsage: boolean;
  skipSpecialTokens: boolean;
  includeStopStrInOutput: boolean;
  addSpecialTokens: boolean;
}

export interface CompletionRequest extends SamplingRequest {
  prompts: PromptInput[];
}

export interface ChatRequest extends SamplingRequest {
  messages: ChatMessage[];
}

export interface RequestLimits {
  /** Most choices one request may ask for (prompts x n). */
  maxChoices: number;
  /** Most stop strings and stop token ids. */
  maxStops: number;
}

type Body = Record<string, unknown>;

export function asBody(json: unknown): Body {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badParam('body', 'expected a JSON object');
  return json as Body;
}

function present(body: Body, key: string): boolean {
  return body[key] !== undefined && body[key] !== null;
}

function numberField(body: Body, key: string, fallback: number, check: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {}): number {
  if (!present(body, key)) return fallback;
  const v = body[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badParam(key, `expected a number, got ${JSON.stringify(v)}`);
  if (check.integer && !Number.isSafeInteger(v)) throw badParam(key, `expected an integer, got ${v}`);
  if (check.min !== undefined && (check.exclusiveMin ? v <= check.min : v < check.min)) throw badParam(key, `must be ${check.exclusiveMin ? '>' : '>='} ${check.min}, got ${v}`);
  if (check.max !== undefined && v > check.max) throw badParam(key, `must be <= ${check.max}, got ${v}`);
  return v;
}

function boolField(body: Body, key: string, fallback: boolean): boolean {
  if (!present(body, key)) return fallback;
  const v = body[key];
  if (typeof v !== 'boolean') throw badParam(key, `expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

function tokenIds(v: unknown, key: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) throw badParam(key, 'expected a list of non-negative integer token ids');
  return v as number[];
}

/** Refuses fields whose non-default values would change the answer in ways this server does not implement. */
function refuseUnsupported(body: Body, noOps: Record<string, (v: unknown) => boolean>): void {
  for (const [key, isNoOp] of Object.entries(noOps)) {
    if (present(body, key) && !isNoOp(body[key])) throw badParam(key, `${JSON.stringify(body[key])} is not supported by this server`);
  }
}

const zero = (v: unknown): boolean => v === 0;
const falsy = (v: unknown): boolean => v === false;
const emptyObject = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.keys(v).length === 0;

function sampling(body: Body, limits: RequestLimits, choicesPerN: number, logprobs: number | null): SamplingRequest {
  if (present(body, 'model') && typeof body.model !== 'string') throw badParam('model', `expected a string, got ${JSON.stringify(body.model)}`);
  const n = numberField(body, 'n', 1, { min: 1, integer: true });
  if (n * choicesPerN > limits.maxChoices) throw badParam('n', `${choicesPerN > 1 ? `${choicesPerN} prompts x ` : ''}n = ${n} asks for more than the server's ${limits.maxChoices} choices per request`);
  refuseUnsupported(body, { presence_penalty: zero, frequency_penalty: zero, logit_bias: emptyObject, best_of: (v) => v === n, use_beam_search: falsy });
  if (present(body, 'repetition_penalty') && body.repetition_penalty !== 1) throw badParam('repetition_penalty', `${JSON.stringify(body.repetition_penalty)} is not supported by this server`);
  let stop: string[] = [];
  if (present(body, 'stop')) {
    const s = body.stop;
    if (typeof s === 'string') stop = [s];
    else if (Array.isArray(s) && s.every((x) => typeof x === 'string')) stop = s as string[];
    else throw badParam('stop', 'expected a string or a list of strings');
    if (stop.some((x) => x.length === 0)) throw badParam('stop', 'stop strings must not be empty');
  }
  const stopTokenIds = present(body, 'stop_token_ids') ? tokenIds(body.stop_token_ids, 'stop_token_ids') : [];
  if (stop.length > limits.maxStops) throw badParam('stop', `at most ${limits.maxStops} stop strings, got ${stop.length}`);
  if (stopTokenIds.length > limits.maxStops) throw badParam('stop_token_ids', `at most ${limits.maxStops} ids, got ${stopTokenIds.length}`);
  const streamOptions = body.stream_options;
  if (present(body, 'stream_options') && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) throw badParam('stream_options', 'expected an object');
  const includeUsage = present(body, 'stream_options') ? boolField(streamOptions as Body, 'include_usage', false) : false;
  const maxTokensKey = present(body, 'max_completion_tokens') ? 'max_completion_tokens' : 'max_tokens';
  return {
    model: present(body, 'model') ? body.model as string : null,
    maxTokens: present(body, maxTokensKey) ? numberField(body, maxTokensKey, 0, { min: 1, integer: true }) : null,
    temperature: numberField(body, 'temperature', 1, { min: 0 }),
    topP: numberField(body, 'top_p', 1, { min: 0, max: 1, exclusiveMin: true }),
    topK: numberField(body, 'top_k', -1, { min: -1, integer: true }),
    n,
    seed: present(body, 'seed') ? numberField(body, 'seed', 0, { integer: true }) : null,
    stop,
    stopTokenIds,
    ignoreEos: boolField(body, 'ignore_eos', false),
    logprobs,
    returnTokensAsTokenIds: boolField(body, 'return_tokens_as_token_ids', false),
    stream: boolField(body, 'stream', false),
    includeUsage,
    skipSpecialTokens: boolField(body, 'skip_special_tokens', true),
    includeStopStrInOutput: boolField(body, 'include_stop_str_in_output', false),
    addSpecialTokens: false,
  };
}

/** `prompt`: a string, a list of strings, a list of token ids, or a list of such lists. */
function prompts(body: Body): PromptInput[] {
  const p = body.prompt;
  if (typeof p === 'string') return [{ text: p }];
  if (Array.isArray(p) && p.length > 0) {
    if (p.every((x) => typeof x === 'string')) return (p as string[]).map((text) => ({ text }));
    if (p.every((x) => typeof x === 'number')) return [{ ids: tokenIds(p, 'prompt') }];
    if (p.every((x) => Array.isArray(x))) return p.map((x, i) => ({ ids: tokenIds(x, `prompt[${i}]`) }));
  }
  throw badParam('prompt', 'expected a string, a list of strings, a list of token ids or a list of token-id lists (none empty)');
}

export function parseCompletionRequest(json: unknown, limits: RequestLimits): CompletionRequest {
  const body = asBody(json);
  refuseUnsupported(body, { echo: falsy, suffix: (v) => v === '' });
  const list = prompts(body);
  const logprobs = present(body, 'logprobs') ? numberField(body, 'logprobs', 0, { min: 0, max: 20, integer: true }) : null;
  return { ...sampling(body, limits, list.length, logprobs), prompts: list, addSpecialTokens: boolField(body, 'add_special_tokens', true) };
}

function messageContent(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    return v.map((part, j) => {
      const p = part as { type?: unknown; text?: unknown };
      if (typeof part !== 'object' || part === null || p.type !== 'text' || typeof p.text !== 'string') {
        throw badParam(`${where}.content[${j}]`, 'only {"type": "text", "text": ...} parts are supported');
      }
      return p.text;
    }).join('');
  }
  if (v === null || v === undefined) return '';
  throw badParam(`${where}.content`, 'expected a string or a list of text parts');
}

export function parseChatRequest(json: unknown, limits: RequestLimits): ChatRequest {
  const body = asBody(json);
  refuseUnsupported(body, { tools: (v) => Array.isArray(v) && v.length === 0, response_format: (v) => (v as { type?: unknown })?.type === 'text' });
  const raw = body.messages;
  if (!Array.isArray(raw) || raw.length === 0) throw badParam('messages', 'expected a non-empty list of {role, content}');
  const messages = raw.map((m, i) => {
    if (typeof m !== 'object' || m === null || typeof (m as Body).role !== 'string') throw badParam(`messages[${i}]`, 'expected {role: string, content}');
    return { role: (m as Body).role as string, content: messageContent((m as Body).content, `messages[${i}]`) };
  });
  const wantLogprobs = boolField(body, 'logprobs', false);
  const top = numberField(body, 'top_logprobs', 0, { min: 0, max: 20, integer: true });
  if (present(body, 'top_logprobs') && !wantLogprobs) throw badParam('top_logprobs', 'needs logprobs: true');
  return { ...sampling(body, limits, 1, wantLogprobs ? top : null), messages, addSpecialTokens: boolField(body, 'add_special_tokens', false) };
}
