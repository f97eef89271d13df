/**
 * One prompt's n samples as an OpenAI completions request of token ids, and its answer back as token
 * ids, normalised to the local generator's convention (generate.ts): a response ends at its first
 * eos, which belongs to it. The ids come from vLLM's `return_token_ids` (`choices[i].token_ids`) when
 * the server sends them, else from the log-probs written as `token_id:N` (vLLM's
 * `return_tokens_as_token_ids`); a server that sends neither breaks the contract.
 */
import { isObject, type RemoteServer } from './remote-client.js';

export interface RemoteSampling {
  n: number;
  maxTokens: number;
  /** 0 = greedy */
  temperature: number;
  topP: number;
  /** -1 or 0 = off */
  topK: number;
  eosTokenIds: readonly number[];
  ignoreEos: boolean;
}

export interface RemoteSample {
  /** The response's ids, up to and including its eos when it stopped at one. */
  tokenIds: number[];
  /** The server's log-prob of each id (NaN for an eos the server did not return and the client added). */
  logprobs: number[];
  finishReason: string;
}

export function completionBody(model: string, prompt: readonly number[], s: RemoteSampling): Record<string, unknown> {
  return {
    model,
    prompt: Array.from(prompt),
    n: s.n,
    max_tokens: s.maxTokens,
    temperature: s.temperature,
    top_p: s.topP,
    top_k: s.topK > 0 ? s.topK : -1,
    logprobs: 1,
    return_tokens_as_token_ids: true,
    return_token_ids: true,
    ...(s.ignoreEos ? { ignore_eos: true } : { stop_token_ids: Array.from(s.eosTokenIds) }),
    stream: false,
  };
}

const TOKEN_ID = /^token_id:(\d+)$/;

/** The answer's n samples in the order of `choices[].index`; throws (the server's fault) on a broken answer. */
export function parseCompletion(server: RemoteServer, answer: unknown, s: RemoteSampling): RemoteSample[] {
  const where = 'POST /v1/completions';
  const choices = isObject(answer) ? answer.choices : undefined;
  if (!Array.isArray(choices) || choices.length !== s.n) {
    throw server.broken(where, `${s.n} choices`, Array.isArray(choices) ? `${choices.length} choices` : answer);
  }
  const out: (RemoteSample | undefined)[] = new Array(s.n);
  choices.forEach((choice: unknown, position) => {
    if (!isObject(choice)) throw server.broken(where, 'choice objects', choice);
    const index = typeof choice.index === 'number' ? choice.index : position;
    if (!Number.isInteger(index) || index < 0 || index >= s.n || out[index]) throw server.broken(where, `choice indices 0..${s.n - 1} once each`, choice.index);
    out[index] = normalize(sampleOf(server, choice), s);
  });
  return out as RemoteSample[];
}

function sampleOf(server: RemoteServer, choice: Record<string, unknown>): RemoteSample {
  const where = 'POST /v1/completions';
  const lp = isObject(choice.logprobs) ? choice.logprobs : null;
  const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : 'unknown';
  let ids: number[] | null = null;
  if (Array.isArray(choice.token_ids) && choice.token_ids.every((t) => Number.isInteger(t) && (t as number) >= 0)) ids = choice.token_ids as number[];
  else if (lp && Array.isArray(lp.tokens)) {
    ids = lp.tokens.map((t) => {
      const m = typeof t === 'string' ? TOKEN_ID.exec(t) : null;
      if (!m) throw server.broken(where, "log-prob tokens written as 'token_id:N' (vLLM: return_tokens_as_token_ids)", t);
      return Number(m[1]);
    });
  }
  if (!ids) throw server.broken(where, "token ids (choices[].token_ids, or logprobs.tokens as 'token_id:N')", choice);
  const raw = lp && Array.isArray(lp.token_logprobs) ? lp.token_logprobs : [];
  const logprobs = ids.map((_, i) => (typeof raw[i] === 'number' ? raw[i] as number : Number.NaN));
  // vLLM's stop_reason: the stop token id when a stop_token_ids entry ended the response (null at the model's eos).
  const stopToken = typeof choice.stop_reason === 'number' ? choice.stop_reason : null;
  return { tokenIds: ids, logprobs, finishReason: stopToken === null ? finishReason : `${finishReason}:${stopToken}` };
}

/**
 * The local convention: cut after the first eos; a response the server ended with 'stop' but
 * without its eos gets the eos back (the token that stopped it, when the server names it), so its
 * length and mask match a local rollout's. Never longer than max_tokens.
 */
function normalize(sample: RemoteSample, s: RemoteSampling): RemoteSample {
  const [reason, stopToken] = sample.finishReason.split(':');
  let ids = sample.tokenIds.slice(0, s.maxTokens);
  let logprobs = sample.logprobs.slice(0, s.maxTokens);
  if (!s.ignoreEos) {
    const eos = new Set(s.eosTokenIds);
    const first = ids.findIndex((t) => eos.has(t));
    if (first >= 0) {
      ids = ids.slice(0, first + 1);
      logprobs = logprobs.slice(0, first + 1);
    } else if (reason === 'stop' && ids.length < s.maxTokens && s.eosTokenIds.length > 0) {
      const named = stopToken !== undefined ? Number(stopToken) : Number.NaN;
      ids.push(eos.has(named) ? named : s.eosTokenIds[0]!);
      logprobs.push(Number.NaN);
    }
  }
  return { tokenIds: ids, logprobs, finishReason: reason ?? 'unknown' };
}

/** One request: the prompt's n samples from `server`. */
export async function completeOnServer(server: RemoteServer, model: string, prompt: readonly number[], s: RemoteSampling): Promise<RemoteSample[]> {
  return parseCompletion(server, await server.completions(completionBody(model, prompt, s)), s);
}
