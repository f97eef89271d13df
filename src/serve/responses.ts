/**
 * OpenAI's response shapes for completions and chat completions, whole and as stream chunks.
 * Extensions, as vLLM has them: `stop_reason` on each choice; this server's own: `weight_version`
 * (the weights that produced the answer; see docs/serve.md).
 */
import type { Tokenizer } from '../tokenizer/index.js';
import { textPieces, tokenStrings, type FinishedChoice } from './choices.js';

export interface AnswerContext {
  id: string;
  created: number;
  model: string;
  weightVersion: number;
  promptTokens: number;
  /** null: no log-probs; else how many alternatives were asked (only the sampled token is listed). */
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

/** Per-token entries of one choice: token strings, log-probs, and the text offset of each token. */
interface TokenEntries {
  tokens: string[];
  logprobs: number[];
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
  return { tokens: tokenStrings(tokenizer, c.ids, ctx.returnTokensAsTokenIds), logprobs: c.logprobs, pieces, offsets };
}

function completionLogprobs(ctx: AnswerContext, e: TokenEntries, from: number, to: number): Record<string, unknown> {
  const tokens = e.tokens.slice(from, to);
  const lps = e.logprobs.slice(from, to);
  return {
    tokens,
    token_logprobs: lps,
    top_logprobs: ctx.logprobs === 0 ? null : tokens.map((t, i) => ({ [t]: lps[i]! })),
    text_offset: e.offsets.slice(from, to),
  };
}

function chatLogprobs(ctx: AnswerContext, e: TokenEntries, from: number, to: number): Record<string, unknown> {
  return {
    content: e.tokens.slice(from, to).map((token, i) => {
      const logprob = e.logprobs[from + i]!;
      const bytes = Array.from(Buffer.from(token, 'utf8'));
      return { token, logprob, bytes, top_logprobs: ctx.logprobs! > 0 ? [{ token, logprob, bytes }] : [] };
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

/**
 * The chunks of a stream, one token of one choice each, choices interleaved token by token; each
 * choice's last chunk carries its finish_reason; then the usage chunk when asked for.
 */
export function streamChunks(tokenizer: Tokenizer, ctx: AnswerContext, choices: readonly FinishedChoice[], chat: boolean, includeUsage: boolean): Record<string, unknown>[] {
  const object = chat ? 'chat.completion.chunk' : 'text_completion';
  const head = { id: ctx.id, object, created: ctx.created, model: ctx.model };
  const all = choices.map((c) => entries(tokenizer, ctx, c));
  const chunks: Record<string, unknown>[] = [];
  if (chat) {
    chunks.push({ ...head, choices: choices.map((_, index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })) });
  }
  const longest = Math.max(0, ...choices.map((c) => c.ids.length));
  for (let t = 0; t < longest; t++) {
    choices.forEach((c, index) => {
      if (t >= c.ids.length) return;
      const e = all[index]!;
      const last = t === c.ids.length - 1;
      const logprobs = ctx.logprobs === null ? null : chat ? chatLogprobs(ctx, e, t, t + 1) : completionLogprobs(ctx, e, t, t + 1);
      const finish = last ? c.finishReason : null;
      const stopReason = last ? c.stopReason : null;
      chunks.push({
        ...head,
        choices: [chat
          ? { index, delta: { content: e.pieces[t]! }, logprobs, finish_reason: finish, stop_reason: stopReason }
          : { index, text: e.pieces[t]!, logprobs, finish_reason: finish, stop_reason: stopReason }],
      });
    });
  }
  // A choice with no tokens (cannot happen with max_tokens >= 1, but keep the stream well-formed).
  choices.forEach((c, index) => {
    if (c.ids.length > 0) return;
    chunks.push({ ...head, choices: [chat ? { index, delta: {}, logprobs: null, finish_reason: c.finishReason } : { index, text: '', logprobs: null, finish_reason: c.finishReason }] });
  });
  if (includeUsage) chunks.push({ ...head, choices: [], usage: usage(ctx, choices), weight_version: ctx.weightVersion });
  return chunks;
}
