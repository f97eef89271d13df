/**
 * Health, model listing and weight updates, in the shapes the big engines use so a trainer written
 * for them works here: SGLang's `/update_weights_from_disk` and `/get_model_info`, vLLM's
 * `/v1/load_lora_adapter` and `/v1/unload_lora_adapter`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, badParam } from './errors.js';
import { readJson, sendJson, sendText } from './http-io.js';
import type { ModelHost } from './model-host.js';
import { asBody } from './params.js';
import type { Scheduler } from './scheduler.js';

export interface AdminRouteContext {
  host: ModelHost;
  scheduler: Scheduler;
  maxBodyBytes: number;
  log: (line: string) => void;
}

export function handleHealth(ctx: AdminRouteContext, res: ServerResponse): void {
  const s = ctx.scheduler.stats;
  sendJson(res, 200, {
    status: 'ok',
    model: ctx.host.modelId,
    weight_version: ctx.host.weightVersion,
    queued_rows: s.queuedRows,
    running: s.running,
    generate_calls: s.generateCalls,
    prefills: s.prefills,
    decode_steps: s.decodeSteps,
    decoded_tokens: s.decodedTokens,
    completed_requests: s.requests,
    prompt_tokens: s.promptTokens,
    cached_prompt_tokens: s.cachedPromptTokens,
    prefix_cache_entries: s.prefixCacheEntries,
    prefix_cache_bytes: s.prefixCacheBytes,
  });
}

export function handleModels(ctx: AdminRouteContext, res: ServerResponse): void {
  sendJson(res, 200, {
    object: 'list',
    data: ctx.host.models().map((m) => ({
      id: m.id,
      object: 'model',
      created: ctx.host.created,
      owned_by: 'tinyzero',
      root: m.root,
      parent: m.parent,
      max_model_len: ctx.host.maxPositions,
      weight_version: m.weightVersion,
    })),
  });
}

export function handleModelInfo(ctx: AdminRouteContext, res: ServerResponse): void {
  sendJson(res, 200, {
    model_path: ctx.host.weightsPath,
    tokenizer_path: ctx.host.modelDir,
    is_generation: true,
    weight_version: ctx.host.weightVersion,
  });
}

function stringField(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || v === '') throw badParam(key, `expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * SGLang's answer is `{success, message}`, 200 or 400. Answered once the new weights are in place:
 * every generation that starts after it uses them; those already running finish on the old ones.
 */
export async function handleUpdateWeights(ctx: AdminRouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let path: string;
  try {
    path = stringField(asBody(await readJson(req, ctx.maxBodyBytes)), 'model_path');
  } catch (e) {
    if (e instanceof ApiError && e.status !== 400) throw e;
    sendJson(res, 400, { success: false, message: (e as Error).message });
    return;
  }
  try {
    const version = ctx.host.updateFromDisk(path);
    ctx.log(`weights updated from ${path} (weight_version ${version})`);
    sendJson(res, 200, { success: true, message: `Succeeded to update model weights from ${path}.`, weight_version: version });
  } catch (e) {
    sendJson(res, 400, { success: false, message: `Failed to update weights from ${path}: ${(e as Error).message}`, weight_version: ctx.host.weightVersion });
  }
}

/** vLLM answers its adapter endpoints with plain text on success and an error object otherwise. */
export async function handleLoadLora(ctx: AdminRouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = asBody(await readJson(req, ctx.maxBodyBytes));
  const name = stringField(body, 'lora_name');
  const path = stringField(body, 'lora_path');
  if (body.load_inplace !== undefined && typeof body.load_inplace !== 'boolean') throw badParam('load_inplace', `expected true or false, got ${JSON.stringify(body.load_inplace)}`);
  const version = ctx.host.loadAdapter(name, path, body.load_inplace === true);
  ctx.log(`LoRA adapter '${name}' loaded from ${path} (weight_version ${version})`);
  sendText(res, 200, `Success: LoRA adapter '${name}' added successfully.`);
}

export async function handleUnloadLora(ctx: AdminRouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const name = stringField(asBody(await readJson(req, ctx.maxBodyBytes)), 'lora_name');
  const version = ctx.host.unloadAdapter(name);
  ctx.log(`LoRA adapter '${name}' unloaded (weight_version ${version})`);
  sendText(res, 200, `Success: LoRA adapter '${name}' removed successfully.`);
}
