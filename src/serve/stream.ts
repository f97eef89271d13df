/**
 * Choices as they are decoded: each token is checked against the stop strings and stop token ids
 * (so a row ends, and leaves the batch, at the token that completes a stop), and, for a stream, the
 * text that token makes safe to send goes out at once as a server-sent event. Text is held back
 * while it ends with the beginning of a stop string or in the middle of a UTF-8 character, so the
 * pieces sent never include text a later stop would cut, and they join to the non-streamed text.
 */
import type { ServerResponse } from 'node:http';
import type { RowToken } from '../generation/step-decoder.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { decodeSafe, finishChoice, firstStop, type FinishedChoice, type TextOptions } from './choices.js';
import { chatLogprobs, completionLogprobs, tokenEntries, usage, type AnswerContext } from './responses.js';

/** A `text/event-stream` answer, its headers written with the first event. */
export class EventStream {
  #open = false;

  constructor(readonly res: ServerResponse) {}

  send(value: unknown): void {
    if (!this.#open) {
      this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      this.#open = true;
    }
    this.res.write(`data: ${JSON.stringify(value)}\n\n`);
  }

  end(): void {
    if (!this.#open) this.send(null);
    this.res.end('data: [DONE]\n\n');
  }
}

/** The chunks of one streamed answer (completions or chat). */
export class ChunkWriter {
  readonly #head: Record<string, unknown>;

  constructor(readonly stream: EventStream, readonly tokenizer: Tokenizer, readonly ctx: AnswerContext, readonly chat: boolean, choices: number) {
    this.#head = { id: ctx.id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: ctx.created, model: ctx.model };
    if (chat) stream.send({ ...this.#head, choices: Array.from({ length: choices }, (_, index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })) });
  }

  /** One token of choice `index`: its text piece (possibly empty), its log-prob entry, and the finish on the last. */
  token(index: number, t: RowToken, piece: string, offset: number, finish: FinishedChoice | null): void {
    let logprobs: Record<string, unknown> | null = null;
    if (this.ctx.logprobs !== null) {
      const e = tokenEntries(this.tokenizer, this.ctx, [t.token], [t.logprob], t.top ? [t.top] : null);
      logprobs = this.chat ? chatLogprobs(this.ctx, e, 0, 1) : completionLogprobs(this.ctx, { ...e, offsets: [offset] }, 0, 1);
    }
    const finish_reason = finish?.finishReason ?? null;
    const stop_reason = finish?.stopReason ?? null;
    this.stream.send({
      ...this.#head,
      choices: [this.chat
        ? { index, delta: { content: piece }, logprobs, finish_reason, stop_reason }
        : { index, text: piece, logprobs, finish_reason, stop_reason }],
    });
  }

  /** The usage chunk (when asked for) and the end of the stream. */
  end(choices: readonly FinishedChoice[], includeUsage: boolean, weightVersion: number): void {
    if (includeUsage) this.stream.send({ ...this.#head, choices: [], usage: usage(this.ctx, choices), weight_version: weightVersion });
    this.stream.end();
  }
}

/** Follows one choice token by token; `push` says when a stop ended it. */
export class ChoiceWatcher {
  readonly #ids: number[] = [];
  readonly #logprobs: number[] = [];
  readonly #stopIds: Set<number>;
  readonly #longestStop: number;
  #sent = '';

  constructor(readonly tokenizer: Tokenizer, readonly options: TextOptions, readonly writer: ChunkWriter | null, readonly index: number) {
    this.#stopIds = new Set(options.stopTokenIds);
    this.#longestStop = Math.max(0, ...options.stop.map((s) => s.length));
  }

  /** Takes the next token; true when it completes a stop string or is a stop token id (the choice ends with it). */
  push(t: RowToken): boolean {
    this.#ids.push(t.token);
    this.#logprobs.push(t.logprob);
    const stopped = (this.#stopIds.has(t.token) && !t.endedAtEos) ||
      (this.#longestStop > 0 && firstStop(this.#text(), this.options.stop) !== null);
    if (!this.writer) return stopped;
    const offset = this.#sent.length;
    if (stopped || t.finished) {
      const final = finishChoice(this.tokenizer, { ids: this.#ids, logprobs: this.#logprobs, top: null, endedAtEos: t.endedAtEos }, this.options);
      const piece = final.text.startsWith(this.#sent) ? final.text.slice(this.#sent.length) : '';
      this.#sent = final.text;
      this.writer.token(this.index, t, piece, offset, final);
    } else {
      const safe = this.#safeText();
      const piece = safe.startsWith(this.#sent) ? safe.slice(this.#sent.length) : '';
      if (piece.length > 0) this.#sent = safe;
      this.writer.token(this.index, t, piece, offset, null);
    }
    return stopped;
  }

  #text(): string {
    return decodeSafe(this.tokenizer, this.#ids, this.options.skipSpecialTokens);
  }

  /** The text so far without an unfinished character at its end or the start of a stop string. */
  #safeText(): string {
    let text = this.#text();
    while (text.endsWith('\uFFFD')) text = text.slice(0, -1);
    for (let h = Math.min(this.#longestStop - 1, text.length); h > 0; h--) {
      const tail = text.slice(text.length - h);
      if (this.options.stop.some((s) => s.startsWith(tail))) return text.slice(0, text.length - h);
    }
    return text;
  }
}
