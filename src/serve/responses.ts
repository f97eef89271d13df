/**
 * OpenAI's response shapes for completions and chat completions, whole and as stream chunks.
 * Extensions, as vLLM has them: `stop_reason` on each choice; this server's own: `weight_version`
 * (the weights that produced the answer; see docs/serve.md).
 */
import type { Tokenizer } from '../tokenizer/index.js';
import type { TopLogprob } from '../generation/step-decoder.js';
import { textPieces, tokenStrings, type FinishedChoice } from './choices.js';

export interface AnswerContext {
  id: string;
  created: number;
  model: string;
  weightVersion: number;
  promptTokens: number;
  /** null: no log-probs; else how many alternatives to list per position. */
  logprobs: number | null;
  returnTokensAsTokenIds: boolean;
  skipSpecialTokens: boolean;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(ctx: AnswerContext, choices: readonly FinishedChoice[]): Usage {
  const completion = choices.reduce((s, c) => s + c.ids.length, 0);
  return { prompt_tokens: ctx.promptTokens, completion_tokens: completion, total_tokens: ctx.promptTokens + completion };
}

/** Per-token entries of one choice: token strings, log-probs, alternatives, and the text offset of each token. */
interface TokenEntries {
  tokens: string[];
  logprobs: number[];
  /** Per position, the alternatives as [token string, log-prob], most likely first. */
  top: [string, number][][] | null;
  pieces: string[];
  offsets: number[];
}

function entries(tokenizer: Tokenizer, ctx: AnswerContext, c: FinishedChoice): TokenEntries {
  const pieces = textPieces(tokenizer, c, ctx.skipSpecialTokens);
  const offsets: number[] = [];
  let at = 0;
  for (const p of pieces) {
    offsets.push(at);
    at += p.length;
  }
  return { ...tokenEntries(tokenizer, ctx, c.ids, c.logprobs, c.top), pieces, offsets };
}

/** Token strings and alternatives of `ids` (a whole choice, or the tokens of one stream chunk). */
export function tokenEntries(tokenizer: Tokenizer, ctx: AnswerContext, ids: readonly number[], logprobs: readonly number[], top: readonly (readonly TopLogprob[])[] | null): Omit<TokenEntries, 'pieces' | 'offsets'> {
  return {
    tokens: tokenStrings(tokenizer, ids, ctx.returnTokensAsTokenIds),
    logprobs: logprobs.slice(),
    top: top ? top.map((alts) => {
      const names = tokenStrings(tokenizer, alts.map((a) => a.id), ctx.returnTokensAsTokenIds);
      return alts.map((a, i): [string, number] => [names[i]!, a.logprob]);
    }) : null,
  };
}

/**
 * OpenAI's completions `logprobs` of tokens [from, to): `top_logprobs` maps the k most likely tokens
 * to their log-probs, and the sampled token too when it is not among them (as vLLM does).
 */
export function completionLogprobs(ctx: AnswerContext, e: Omit<TokenEntries, 'pieces'>, from: number, to: number): Record<string, unknown> {
  const tokens = e.tokens.slice(from, to);
  const lps = e.logprobs.slice(from, to);
  return {
    tokens,
    token_logprobs: lps,
    top_logprobs: ctx.logprobs === 0 ? null : tokens.map((t, i) => {
      const map: Record<string, number> = {};
      for (const [name, lp] of e.top?.[from + i] ?? []) if (!(name in map)) map[name] = lp;
      if (!(t in map)) map[t] = lps[i]!;
      return map;
    }),
    text_offset: e.offsets.slice(from, to),
  };
}

/** OpenAI's chat `logprobs.content` of tokens [from, to): `top_logprobs` lists the k most likely tokens. */
export function chatLogprobs(ctx: AnswerContext, e: Omit<TokenEntries, 'pieces' | 'offsets'>, from: number, to: number): Record<string, unknown> {
  const bytes = (token: string): number[] => Array.from(Buffer.from(token, 'utf8'));
  return {
    content: e.tokens.slice(from, to).map((token, i) => {
      const logprob = e.logprobs[from + i]!;
      const top = ctx.logprobs! > 0 ? (e.top?.[from + i] ?? []).map(([t, lp]) => ({ token: t, logprob: lp, bytes: bytes(t) })) : [];
      return { token, logprob, bytes: bytes(token), top_logprobs: top };
    }),
  };
}

export function completionResponse(tokenizer: Tokenizer, ctx: AnswerContext, choices: readonly FinishedChoice[]): Record<string, unknown> {
  return {
    id: ctx.id,
    object: 'text_completion',
    created: ctx.created,
    model: ctx.model,
    choices: choices.map((c, index) => ({
      index,
      text: c.text,
      logprobs: ctx.logprobs === null ? null : completionLogprobs(ctx, entries(tokenizer, ctx, c), 0, c.ids.length),
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
    })),
    usage: usage(ctx, choices),
    weight_version: ctx.weightVersion,
  };
}

export function chatResponse(tokenizer: Tokenizer, ctx: AnswerContext, choices: readonly FinishedChoice[]): Record<string, unknown> {
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    choices: choices.map((c, index) => ({
      index,
      message: { role: 'assistant', content: c.text },
      logprobs: ctx.logprobs === null ? null : chatLogprobs(ctx, entries(tokenizer, ctx, c), 0, c.ids.length),
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
    })),
    usage: usage(ctx, choices),
    weight_version: ctx.weightVersion,
  };
}
