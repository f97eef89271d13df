/** `tinyzero serve`: an OpenAI-compatible HTTP server for a model folder (docs/serve.md). */
import { readFileSync } from 'node:fs';
import { createBackend } from '../backend/index.js';
import { serveDefaults, startServer } from '../serve/index.js';
import { setBackend } from '../tensor/index.js';
import { intOption, parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';

const d = serveDefaults;
const spec = {
  model: { type: 'string' as const, help: 'Hugging Face folder (config.json, safetensors, tokenizer)' },
  lora: { type: 'string' as const, help: 'PEFT LoRA folder applied to the served model (as generate --lora)' },
  host: { type: 'string' as const, help: `address to listen on (default ${d.host}: this machine only)` },
  port: { type: 'string' as const, help: `default ${d.port}; 0 = any free port` },
  device: { type: 'string' as const, help: 'cpu, webgpu or reference (default cpu)' },
  threads: { type: 'string' as const, help: 'CPU threads' },
  'weight-dtype': { type: 'string' as const, help: 'f32 or f16 (default f32)' },
  'api-key': { type: 'string' as const, help: 'require Authorization: Bearer KEY (default: $TINYZERO_API_KEY, else none)' },
  'served-model-name': { type: 'string' as const, help: 'the model id clients use (default: --model as given)' },
  'chat-template': { type: 'string' as const, help: 'Jinja file used instead of the tokenizer\'s chat template' },
  'max-batch-rows': { type: 'string' as const, help: `most rows (prompts x n) decoding together (default ${d.maxBatchRows})` },
  'max-batch-tokens': { type: 'string' as const, help: `most rows x positions of the running batch's KV cache (default ${d.maxBatchTokens})` },
  'max-queued-rows': { type: 'string' as const, help: `rows waiting before requests get 429 (default ${d.maxQueuedRows})` },
  'max-body-bytes': { type: 'string' as const, help: `largest request body (default ${d.maxBodyBytes})` },
  'batch-window-ms': { type: 'string' as const, help: `how long an idle server gathers requests into a batch (default ${d.batchWindowMs})` },
  seed: { type: 'string' as const, help: `seed of requests without one (default ${d.seed})` },
  'prefix-cache-mib': { type: 'string' as const, help: `most MiB of prompt keys and values kept to prefill shared prefixes once (default ${d.prefixCacheBytes / 1048576}; 0 = off)` },
};

export const serveCommand: Command = {
  summary: 'OpenAI-compatible HTTP server for a model folder (completions, chat, weight updates)',
  usage: formatUsage({
    synopsis: ['tinyzero serve --model DIR [--lora DIR] [--host 127.0.0.1] [--port 8000] [--device cpu|webgpu] [options]'],
    description: 'Serves POST /v1/completions and /v1/chat/completions (streaming, n, logprobs, seed, stop), GET /v1/models and ' +
      '/health, and weight updates (SGLang\'s POST /update_weights_from_disk, vLLM\'s POST /v1/load_lora_adapter and ' +
      '/v1/unload_lora_adapter). Requests that arrive together are generated as one batch. Ctrl-C stops it after the running generation.',
    options: spec,
    notes: ['example: tinyzero serve --model assets/models/countdown-base --port 8000', 'the endpoint contract: docs/serve.md'],
  }),
  async run(args) {
    const cmd = 'serve';
    const parsed = parseArgs(args, spec, cmd);
    if (parsed.positionals.length > 0) throw new Error(`${cmd}: unexpected argument '${parsed.positionals[0]}'`);
    const model = stringOption(parsed, 'model');
    if (!model) throw new Error(`${cmd}: --model DIR is required`);
    const positive = (key: string, fallback: number, min = 1): number => {
      const v = intOption(parsed, key, fallback, cmd);
      if (v < min) throw new Error(`${cmd}: option '--${key}' must be at least ${min}, got ${v}`);
      return v;
    };
    const port = positive('port', d.port, 0);
    if (port > 65535) throw new Error(`${cmd}: option '--port' must be 0..65535, got ${port}`);
    const templateFile = stringOption(parsed, 'chat-template');
    let chatTemplate: string | undefined;
    if (templateFile !== undefined) {
      try {
        chatTemplate = readFileSync(templateFile, 'utf8');
      } catch (e) {
        throw new Error(`${cmd}: --chat-template ${templateFile}: ${(e as Error).message}`);
      }
    }
    const weightDtype = stringOption(parsed, 'weight-dtype') ?? 'f32';
    if (weightDtype !== 'f32' && weightDtype !== 'f16') throw new Error(`${cmd}: --weight-dtype must be f32 or f16, got '${weightDtype}'`);
    const threads = parsed.options.threads === undefined ? undefined : positive('threads', 1);
    const options = {
      modelDir: model,
      loraDir: stringOption(parsed, 'lora'),
      host: stringOption(parsed, 'host') ?? d.host,
      port,
      apiKey: stringOption(parsed, 'api-key') ?? (process.env.TINYZERO_API_KEY || undefined),
      servedModelName: stringOption(parsed, 'served-model-name'),
      chatTemplate,
      maxBatchRows: positive('max-batch-rows', d.maxBatchRows),
      maxBatchTokens: positive('max-batch-tokens', d.maxBatchTokens),
      maxQueuedRows: positive('max-queued-rows', d.maxQueuedRows),
      maxBodyBytes: positive('max-body-bytes', d.maxBodyBytes),
      batchWindowMs: positive('batch-window-ms', d.batchWindowMs, 0),
      seed: intOption(parsed, 'seed', d.seed, cmd),
      prefixCacheBytes: positive('prefix-cache-mib', d.prefixCacheBytes / 1048576, 0) * 1048576,
      log: (line: string) => console.error(`serve: ${line}`),
    };
    const backend = await createBackend(stringOption(parsed, 'device') ?? 'cpu', { threads, weightDtype });
    setBackend(backend);
    try {
      const server = await startServer(options);
      console.error(`serve: ${server.host.modelId} on ${server.url} (${backend.name} backend${options.apiKey ? ', API key required' : ''}; Ctrl-C to stop)`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          console.error('serve: stopping (the running generation finishes first)');
          done();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
    } finally {
      backend.destroy();
    }
    return 0;
  },
};
