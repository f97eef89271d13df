/** `POST /v1/completions` and `POST /v1/chat/completions`: checked requests to scheduler jobs to OpenAI answers. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finishChoice, type FinishedChoice } from './choices.js';
import { badParam } from './errors.js';
import type { RowToken } from '../generation/step-decoder.js';
import { readJson, sendJson } from './http-io.js';
import type { ModelHost } from './model-host.js';
import { parseChatRequest, parseCompletionRequest, type PromptInput, type RequestLimits, type SamplingRequest } from './params.js';
import { chatResponse, completionResponse, type AnswerContext } from './responses.js';
import type { GenerationJob, Scheduler } from './scheduler.js';
import { ChoiceWatcher, ChunkWriter, EventStream } from './stream.js';

export interface GenerationRouteContext {
  host: ModelHost;
  scheduler: Scheduler;
  limits: RequestLimits;
  maxBodyBytes: number;
}

/** Tokenizes a prompt and checks its ids against the model's vocabulary. */
function promptIds(host: ModelHost, p: PromptInput, addSpecialTokens: boolean, param: string): number[] {
  const ids = 'text' in p ? host.tokenizer.encode(p.text, { addSpecialTokens }) : [...p.ids];
  if (ids.length === 0) throw badParam(param, 'the prompt is empty (it must have at least one token)');
  const bad = ids.find((id) => id >= host.vocabSize);
  if (bad !== undefined) throw badParam(param, `token id ${bad} is outside the model's vocabulary [0, ${host.vocabSize})`);
  return ids;
}

/** max_tokens checked against the context: prompt + generated tokens must fit the model's positions. */
function maxTokensFor(host: ModelHost, req: SamplingRequest, promptLength: number, fallback: number): number {
  const room = host.maxPositions - promptLength;
  if (room < 1) {
    throw badParam('prompt', `This model's maximum context length is ${host.maxPositions} tokens; the prompt has ${promptLength}, which leaves no room for a completion`);
  }
  const maxTokens = req.maxTokens ?? Math.min(fallback, room);
  if (maxTokens > room) {
    throw badParam('max_tokens', `This model's maximum context length is ${host.maxPositions} tokens. However, you requested ${promptLength + maxTokens} tokens (${promptLength} in the prompt, ${maxTokens} in the completion)`);
  }
  return maxTokens;
}

function jobFor(req: SamplingRequest, adapter: string | null, ids: number[], maxTokens: number, cancelled: () => boolean, watchers: ChoiceWatcher[] | null): GenerationJob {
  return {
    promptIds: ids, n: req.n, maxTokens, temperature: req.temperature, topP: req.topP, topK: req.topK,
    seed: req.seed, ignoreEos: req.ignoreEos, adapter, cancelled, topLogprobs: req.logprobs ?? 0,
    ...(watchers ? { onToken: (row: number, t: RowToken) => watchers[row]!.push(t) } : {}),
  };
}

/** True once the client closed the connection before the answer was written. */
function watchClose(res: ServerResponse): () => boolean {
  let gone = false;
  res.on('close', () => {
    if (!res.writableFinished) gone = true;
  });
  return () => gone;
}

async function answer(ctx: GenerationRouteContext, res: ServerResponse, req: SamplingRequest, prompts: number[][], maxTokens: number[], chat: boolean, arrived: () => void): Promise<void> {
  const { host, scheduler } = ctx;
  const adapter = host.resolve(req.model);
  const cancelled = watchClose(res);
  const textOptions = { stop: req.stop, stopTokenIds: req.stopTokenIds, skipSpecialTokens: req.skipSpecialTokens, includeStopStrInOutput: req.includeStopStrInOutput };
  const answerCtx: AnswerContext = {
    id: `${chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
    created: Math.floor(Date.now() / 1000),
    model: req.model ?? host.modelId,
    weightVersion: host.weightVersion,
    promptTokens: prompts.reduce((s, p) => s + p.length, 0),
    logprobs: req.logprobs,
    returnTokensAsTokenIds: req.returnTokensAsTokenIds,
    skipSpecialTokens: req.skipSpecialTokens,
  };
  // Tokens are watched as they come when a stop can end a choice early or the answer streams.
  const writer = req.stream ? new ChunkWriter(new EventStream(res), host.tokenizer, answerCtx, chat, prompts.length * req.n) : null;
  const watch = writer !== null || req.stop.length > 0 || req.stopTokenIds.length > 0;
  const jobs = prompts.map((ids, i) => jobFor(req, adapter, ids, maxTokens[i]!, cancelled,
    watch ? Array.from({ length: req.n }, (_, j) => new ChoiceWatcher(host.tokenizer, textOptions, writer, i * req.n + j)) : null));
  const submitted = scheduler.submit(jobs);
  arrived();
  const results = await submitted;
  const choices: FinishedChoice[] = results.flatMap((r) => r.rows.map((row) => finishChoice(host.tokenizer, row, textOptions)));
  // The oldest weights any part of the answer used.
  answerCtx.weightVersion = Math.min(...results.map((r) => r.weightVersion));
  if (cancelled()) return;
  if (writer) writer.end(choices, req.includeUsage, answerCtx.weightVersion);
  else sendJson(res, 200, chat ? chatResponse(host.tokenizer, answerCtx, choices) : completionResponse(host.tokenizer, answerCtx, choices));
}

export async function handleCompletion(ctx: GenerationRouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const arrived = ctx.scheduler.arriving();
  try {
    await completion(ctx, req, res, arrived);
  } finally {
    arrived();
  }
}

export async function handleChat(ctx: GenerationRouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const arrived = ctx.scheduler.arriving();
  try {
    await chatCompletion(ctx, req, res, arrived);
  } finally {
    arrived();
  }
}

async function completion(ctx: GenerationRouteContext, req: IncomingMessage, res: ServerResponse, arrived: () => void): Promise<void> {
  const parsed = parseCompletionRequest(await readJson(req, ctx.maxBodyBytes), ctx.limits);
  ctx.host.resolve(parsed.model);
  const prompts = parsed.prompts.map((p, i) => promptIds(ctx.host, p, parsed.addSpecialTokens, parsed.prompts.length > 1 ? `prompt[${i}]` : 'prompt'));
  // OpenAI's default max_tokens for completions is 16.
  const maxTokens = prompts.map((p) => maxTokensFor(ctx.host, parsed, p.length, 16));
  await answer(ctx, res, parsed, prompts, maxTokens, false, arrived);
}

async function chatCompletion(ctx: GenerationRouteContext, req: IncomingMessage, res: ServerResponse, arrived: () => void): Promise<void> {
  const parsed = parseChatRequest(await readJson(req, ctx.maxBodyBytes), ctx.limits);
  ctx.host.resolve(parsed.model);
  const rendered = ctx.host.renderChat(parsed.messages);
  const ids = promptIds(ctx.host, { text: rendered }, parsed.addSpecialTokens, 'messages');
  // As vLLM: without max_tokens a chat answer may use the rest of the context.
  const maxTokens = maxTokensFor(ctx.host, parsed, ids.length, Number.MAX_SAFE_INTEGER);
  await answer(ctx, res, parsed, [ids], [maxTokens], true, arrived);
}

