/**
 * From generated rows to the text a client sees: decoding, stop token ids and stop strings (which
 * cut the text and the tokens, as vLLM does: the token that completes a stop string is the last one
 * kept, its text is cut unless include_stop_str_in_output), finish reasons, per-token log-prob
 * entries and the text deltas of a stream.
 */
import type { Tokenizer } from '../tokenizer/index.js';
import type { TopLogprob } from '../generation/step-decoder.js';
import type { GeneratedRow } from './scheduler.js';

export interface TextOptions {
  stop: readonly string[];
  stopTokenIds: readonly number[];
  skipSpecialTokens: boolean;
  includeStopStrInOutput: boolean;
}

export interface FinishedChoice {
  ids: number[];
  logprobs: number[];
  /** Per position, the most likely alternatives (when asked for). */
  top: TopLogprob[][] | null;
  text: string;
  finishReason: 'stop' | 'length';
  /** vLLM's stop_reason: the stop string or stop token id that ended it; null at eos or length. */
  stopReason: string | number | null;
}

/** Decodes ids the tokenizer does not know (a model vocabulary padded past the tokenizer's) as nothing. */
export function decodeSafe(tokenizer: Tokenizer, ids: readonly number[], skipSpecialTokens: boolean): string {
  const known = ids.every((id) => id < tokenizer.vocabSize) ? ids : ids.filter((id) => id < tokenizer.vocabSize);
  return tokenizer.decode(known, { skipSpecialTokens });
}

/** The earliest-ending occurrence of any stop string: [start, end) in text. */
export function firstStop(text: string, stops: readonly string[]): { start: number; end: number; stop: string } | null {
  let best: { start: number; end: number; stop: string } | null = null;
  for (const stop of stops) {
    const start = text.indexOf(stop);
    if (start < 0) continue;
    const end = start + stop.length;
    if (best === null || end < best.end || (end === best.end && start < best.start)) best = { start, end, stop };
  }
  return best;
}

export function finishChoice(tokenizer: Tokenizer, row: GeneratedRow, options: TextOptions): FinishedChoice {
  let ids = row.ids;
  let finishReason: 'stop' | 'length' = row.endedAtEos ? 'stop' : 'length';
  let stopReason: string | number | null = null;
  let dropLastText = false;
  const stopIds = new Set(options.stopTokenIds);
  const at = stopIds.size > 0 ? ids.findIndex((id) => stopIds.has(id)) : -1;
  if (at >= 0 && !(row.endedAtEos && at === ids.length - 1)) {
    ids = ids.slice(0, at + 1);
    finishReason = 'stop';
    stopReason = ids[at]!;
    dropLastText = !options.includeStopStrInOutput;
  }
  const decode = (k: number): string => decodeSafe(tokenizer, ids.slice(0, dropLastText ? Math.min(k, ids.length - 1) : k), options.skipSpecialTokens);
  let text = decode(ids.length);
  const hit = options.stop.length > 0 ? firstStop(text, options.stop) : null;
  if (hit) {
    // The fewest tokens whose text already holds the stop string.
    let lo = 1;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (firstStop(decode(mid), [hit.stop]) !== null) hi = mid;
      else lo = mid + 1;
    }
    ids = ids.slice(0, lo);
    dropLastText = false;
    text = text.slice(0, options.includeStopStrInOutput ? hit.end : hit.start);
    finishReason = 'stop';
    stopReason = hit.stop;
  }
  return { ids, logprobs: row.logprobs.slice(0, ids.length), top: row.top?.slice(0, ids.length) ?? null, text, finishReason, stopReason };
}

/**
 * The text each token adds, so that the pieces joined are exactly `choice.text` (a token whose bytes
 * end mid-character adds nothing until the character completes; text past a stop cut is never sent).
 */
export function textPieces(tokenizer: Tokenizer, choice: FinishedChoice, skipSpecialTokens: boolean): string[] {
  const pieces: string[] = [];
  let sent = 0;
  for (let i = 0; i < choice.ids.length; i++) {
    let upTo: string;
    if (i === choice.ids.length - 1) upTo = choice.text;
    else {
      const prefix = decodeSafe(tokenizer, choice.ids.slice(0, i + 1), skipSpecialTokens);
      upTo = prefix.endsWith('\uFFFD') || !choice.text.startsWith(prefix) ? choice.text.slice(0, sent) : prefix;
    }
    pieces.push(upTo.slice(sent));
    sent = Math.max(sent, upTo.length);
  }
  return pieces;
}

/** The token strings of logprob entries: `token_id:N` (vLLM's return_tokens_as_token_ids) or the token's own text. */
export function tokenStrings(tokenizer: Tokenizer, ids: readonly number[], asIds: boolean): string[] {
  return ids.map((id) => asIds ? `token_id:${id}` : decodeSafe(tokenizer, [id], false));
}
