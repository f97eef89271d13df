/**
 * The HTTP client of one OpenAI-compatible inference server (vLLM, SGLang or `tinyzero serve`), with
 * the calls a trainer's remote rollout makes (docs/distributed.md#endpoint-contract). Plain `fetch`;
 * every call has a deadline, and every failure is a RemoteServerError that names the server and says
 * whether another server could take the same request.
 */

/**
 * unreachable: no connection; timeout: no answer in time; server: a 5xx or an answer that breaks the
 * contract; busy: 429 (queue full), worth retrying later; rejected: another 4xx, the request's fault.
 */
export type RemoteFailure = 'unreachable' | 'timeout' | 'server' | 'busy' | 'rejected';

export class RemoteServerError extends Error {
  constructor(readonly url: string, readonly failure: RemoteFailure, readonly status: number | null, message: string) {
    super(`${url}: ${message}`);
    this.name = 'RemoteServerError';
  }

  /** A failure of the server, not of the request: another server may answer it. */
  get serverAtFault(): boolean {
    return this.failure === 'unreachable' || this.failure === 'timeout' || this.failure === 'server';
  }
}

export interface RemoteServerOptions {
  /** Sent as `Authorization: Bearer KEY` (vLLM's and SGLang's --api-key). */
  apiKey?: string | null;
  /** Deadline of each call, in milliseconds. */
  timeoutMs: number;
}

/** Accepts http(s)://host[:port][/prefix] and returns it without a trailing slash; throws naming the value otherwise. */
export function normalizeServerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`'${raw}' is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`'${raw}' must start with http:// or https://`);
  if (url.search || url.hash) throw new Error(`'${raw}' must not have a query or fragment (expected http://host:port)`);
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

export class RemoteServer {
  readonly url: string;

  constructor(url: string, readonly options: RemoteServerOptions) {
    this.url = normalizeServerUrl(url);
  }

  /**
   * One call; the answer's body parsed as JSON when it is JSON, else its text. Non-2xx answers
   * throw, with the server's error message when it sent one.
   */
  async call(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = this.options.timeoutMs): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const where = `${method} ${path}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.url}${path}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') {
        throw new RemoteServerError(this.url, 'timeout', null, `${where} got no answer within ${(timeoutMs / 1000).toFixed(1)} s`);
      }
      const reason = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new RemoteServerError(this.url, 'unreachable', null, `${where} failed: ${reason}`);
    }
    const parsed = parseBody(text);
    if (!response.ok) {
      const status = response.status;
      const failure: RemoteFailure = status === 429 ? 'busy' : status >= 500 ? 'server' : 'rejected';
      throw new RemoteServerError(this.url, failure, status, `${where} answered ${status}: ${errorMessage(parsed)}`);
    }
    return parsed;
  }

  /** GET /health: any 2xx answer means up. */
  async health(timeoutMs?: number): Promise<void> {
    await this.call('GET', '/health', undefined, timeoutMs);
  }

  /** GET /v1/models: the ids served (the base model first, then vLLM's LoRA adapters). */
  async models(timeoutMs?: number): Promise<string[]> {
    const answer = await this.call('GET', '/v1/models', undefined, timeoutMs);
    const data = isObject(answer) ? answer.data : undefined;
    if (!Array.isArray(data)) throw this.broken('GET /v1/models', 'an object with a data list', answer);
    return data.map((m) => (isObject(m) && typeof m.id === 'string' ? m.id : '')).filter((id) => id !== '');
  }

  /** SGLang's GET /get_model_info ({model_path, ...}); null when the server has no such endpoint (404). */
  async modelInfo(): Promise<Record<string, unknown> | null> {
    try {
      const answer = await this.call('GET', '/get_model_info');
      return isObject(answer) ? answer : null;
    } catch (err) {
      if (err instanceof RemoteServerError && err.status === 404) return null;
      throw err;
    }
  }

  /** POST /v1/completions; the parsing is the caller's (remote-completion.ts). */
  async completions(body: Record<string, unknown>): Promise<unknown> {
    return this.call('POST', '/v1/completions', body);
  }

  /**
   * SGLang's POST /update_weights_from_disk {model_path, weight_version}; the answer must say
   * {success: true}, which SGLang (and `tinyzero serve`) give once new requests use the new weights.
   */
  async updateWeightsFromDisk(modelPath: string, version: string): Promise<void> {
    const answer = await this.call('POST', '/update_weights_from_disk', { model_path: modelPath, weight_version: version });
    if (!isObject(answer) || answer.success !== true) {
      const message = isObject(answer) && typeof answer.message === 'string' ? answer.message : JSON.stringify(answer);
      throw new RemoteServerError(this.url, 'server', null, `POST /update_weights_from_disk did not load ${modelPath}: ${message}`);
    }
  }

  /** vLLM's POST /v1/load_lora_adapter {lora_name, lora_path} (vLLM answers with plain text). */
  async loadLoraAdapter(name: string, path: string): Promise<void> {
    await this.call('POST', '/v1/load_lora_adapter', { lora_name: name, lora_path: path });
  }

  /** vLLM's POST /v1/unload_lora_adapter {lora_name}. */
  async unloadLoraAdapter(name: string): Promise<void> {
    await this.call('POST', '/v1/unload_lora_adapter', { lora_name: name });
  }

  /** An answer that breaks the contract: the server's fault. */
  broken(where: string, expected: string, got: unknown): RemoteServerError {
    const shown = JSON.stringify(got) ?? String(got);
    return new RemoteServerError(this.url, 'server', null, `${where} answered ${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown}, expected ${expected}`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** OpenAI's {error: {message}}, SGLang's and FastAPI's {message} / {detail}, or the text. */
function errorMessage(body: unknown): string {
  if (isObject(body)) {
    const error = body.error;
    if (isObject(error) && typeof error.message === 'string') return error.message;
    if (typeof error === 'string') return error;
    if (typeof body.message === 'string') return body.message;
    if (body.detail !== undefined) return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
    return JSON.stringify(body);
  }
  const text = String(body).trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty body)';
}
