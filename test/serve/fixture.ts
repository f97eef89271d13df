/** A `tinyzero serve` server on the bundled Countdown base model, in-process on port 0, and the same model for references. */
import OpenAI from 'openai';
import { createBackend } from '../../src/backend/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { generate, type GenerateOptions } from '../../src/generation/index.js';
import { loadCausalLM } from '../../src/models/load.js';
import type { CausalLM } from '../../src/models/llama.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/serve/index.js';
import { setBackend } from '../../src/tensor/index.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';
import { repoRoot } from '../helpers/assets.js';

export const baseModelDir = `${repoRoot}assets/models/countdown-base`;

/** A minimal ChatML template (the bundled model's tokenizer has none). */
export const chatTemplate = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

export interface Fixture {
  backend: Backend;
  server: RunningServer;
  client: OpenAI;
  tokenizer: Tokenizer;
  /** The served folder loaded again, for reference generations. */
  reference: CausalLM;
  close(): Promise<void>;
}

export async function startFixture(options: Partial<ServeOptions> = {}): Promise<Fixture> {
  const backend = await createBackend('cpu', { threads: 1 });
  setBackend(backend);
  const server = await startServer({ modelDir: baseModelDir, servedModelName: 'countdown-base', port: 0, chatTemplate, ...options });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: options.apiKey ?? 'none', maxRetries: 0 });
  const reference = loadCausalLM(baseModelDir, { frozen: true });
  return {
    backend, server, client, reference, tokenizer: loadTokenizer(baseModelDir),
    async close() {
      await server.close();
      reference.dispose();
      backend.destroy();
    },
  };
}

/** generate() on the reference model, rows as id lists with their log-probs. */
export async function referenceRows(f: Fixture, prompt: number[], options: GenerateOptions): Promise<{ ids: number[]; logprobs: number[] }[]> {
  const out = await generate(f.reference, [prompt], { eosTokenIds: [f.tokenizer.eosTokenId], padTokenId: f.tokenizer.padTokenId, ...options });
  return Array.from({ length: out.rows }, (_, r) => ({
    ids: Array.from(out.responseIds.subarray(r * out.width, r * out.width + out.lengths[r]!)),
    logprobs: Array.from(out.logprobs.subarray(r * out.width, r * out.width + out.lengths[r]!)),
  }));
}

/** The ids of a choice from its `token_id:N` log-prob tokens. */
export function choiceIds(tokens: readonly string[] | undefined): number[] {
  if (!tokens) throw new Error('the choice has no logprobs.tokens');
  return tokens.map((t) => {
    const m = /^token_id:(\d+)$/.exec(t);
    if (!m) throw new Error(`not a token_id:N token: ${t}`);
    return Number(m[1]);
  });
}

/** POSTs raw bytes and returns status and parsed JSON (or text). */
export async function post(url: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: the text is the answer
  }
  return { status: res.status, json, text };
}
