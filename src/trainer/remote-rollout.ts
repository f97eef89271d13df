/**
 * The rollout phase on inference servers (actor_rollout_ref.rollout.name vllm | sglang with
 * server_urls; docs/distributed.md). At start every server must answer its health check. Each step
 * the actor's weights are written under the weights folder (step_N, renamed into place when
 * complete) and every live server loads them: SGLang's /update_weights_from_disk for full weights,
 * vLLM's /v1/load_lora_adapter for a LoRA actor; then each prompt's n samples are one completions
 * request, spread over the servers with failover (src/generation/remote-pool.ts). The responses
 * come back as token ids in the local rollout's layout; old log-probs are recomputed locally, as
 * veRL does, so the rest of the step is unchanged.
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TinyZeroConfig } from '../config/types.js';
import { completeOnServer, RemoteServer, RemoteServerError, ServerPool, type RemoteSampling } from '../generation/index.js';
import type { CausalLM } from '../models/llama.js';
import type { LoraModel } from '../models/lora.js';
import { assembleBatch, type RolloutBatch } from './batch.js';
import type { PromptRow } from './dataset.js';
import { saveTrainedWeights } from './lora-roles.js';
import type { RolloutOptions } from './rollout.js';

/** The folder a step's weights go to, under the weights folder. */
export function weightsFolderName(version: number): string {
  return `step_${version}`;
}

/** The LoRA adapter name a step's weights are loaded under on vLLM (and the `model` its requests name). */
export function adapterName(version: number): string {
  return `tinyzero-step-${version}`;
}

const HEALTH_TIMEOUT_MS = 10_000;

export interface RemoteRolloutOptions {
  /** Where status lines and warnings go. */
  log: (line: string) => void;
  /** The run folder: the weights go to its rollout_weights unless rollout.server_weights_dir says otherwise. */
  runDir: string;
}

export class RemoteRollout {
  /** The weights version every live server serves (the step whose generation they are for), or null before the first push. */
  private loaded: number | null = null;
  /** The `model` each server's requests name: its base model id, or the loaded adapter's name. */
  private readonly modelOf = new Map<RemoteServer, string>();

  private constructor(
    readonly pool: ServerPool,
    /** full weights through /update_weights_from_disk, or a LoRA adapter through /v1/load_lora_adapter */
    readonly push: 'disk' | 'lora',
    readonly weightsRoot: string,
    private readonly log: (line: string) => void,
    private readonly healthTimeoutMs: number,
  ) {}

  /**
   * Checks every server's health and reads the model it serves; an unreachable server is an error
   * naming its URL, before any model is loaded.
   */
  static async connect(config: TinyZeroConfig, options: RemoteRolloutOptions): Promise<RemoteRollout> {
    const r = config.actor_rollout_ref.rollout;
    let apiKey: string | null = null;
    if (r.server_api_key_env !== null) {
      apiKey = process.env[r.server_api_key_env] ?? null;
      if (!apiKey) throw new Error(`actor_rollout_ref.rollout.server_api_key_env names ${r.server_api_key_env}, which is not set in the environment`);
    }
    const servers = r.server_urls.map((url) => new RemoteServer(url, { apiKey, timeoutMs: r.server_timeout * 1000 }));
    const pool = new ServerPool(servers, { concurrency: r.server_concurrency, warn: options.log });
    const timeout = Math.min(HEALTH_TIMEOUT_MS, r.server_timeout * 1000);
    const rollout = new RemoteRollout(pool, config.actor_rollout_ref.model.lora_rank > 0 ? 'lora' : 'disk',
      resolve(r.server_weights_dir ?? join(options.runDir, 'rollout_weights')), options.log, timeout);
    await Promise.all(servers.map(async (server) => {
      try {
        await server.health(timeout);
        rollout.modelOf.set(server, await rollout.baseModel(server, timeout));
      } catch (err) {
        const why = err instanceof RemoteServerError ? err.message.slice(server.url.length + 2) : (err as Error).message;
        throw new Error(`rollout server ${server.url} (actor_rollout_ref.rollout.server_urls) is not usable: ${why}`);
      }
    }));
    options.log(`rollout: ${servers.length} ${r.name} server${servers.length === 1 ? '' : 's'} (${servers.map((s) => `${s.url} serving ${rollout.modelOf.get(s)}`).join(', ')}); ` +
      `weights go to ${rollout.weightsRoot}`);
    return rollout;
  }

  private async baseModel(server: RemoteServer, timeoutMs?: number): Promise<string> {
    const ids = await server.models(timeoutMs);
    if (ids.length === 0) throw server.broken('GET /v1/models', 'at least one model', ids);
    return ids[0]!;
  }

  /**
   * Makes every live server serve the actor's current weights as `version` (the step about to
   * generate): writes them, has each server load them, and checks it reports them. A server that
   * fails is dropped with a warning; none left is an error. Older weight folders are removed. Then
   * each dropped server is probed (ServerPool.probeDropped) and, when healthy, loads the same
   * weights and is re-admitted.
   */
  async syncWeights(version: number, actor: { model: CausalLM; lora?: LoraModel }, baseDir: string): Promise<void> {
    if (this.loaded !== version) await this.pushWeights(version, actor, baseDir);
    // Dropped servers that answer again get the weights the others serve, then take work again.
    const folder = join(this.weightsRoot, weightsFolderName(version));
    await this.pool.probeDropped(this.healthTimeoutMs, (server) => this.load(server, version, folder));
  }

  private async pushWeights(version: number, actor: { model: CausalLM; lora?: LoraModel }, baseDir: string): Promise<void> {
    const folder = await this.writeWeights(version, actor, baseDir);
    const previous = this.loaded;
    await Promise.all(this.pool.live.map(async (server) => {
      try {
        await this.load(server, version, folder);
      } catch (err) {
        if (!(err instanceof RemoteServerError) || err.failure === 'rejected') throw err;
        this.pool.drop(server, err.message.slice(server.url.length + 2));
      }
    }));
    if (this.pool.live.length === 0) throw this.pool.allFailed();
    this.loaded = version;
    if (previous !== null && this.push === 'lora') {
      // Best effort: a server that kept the old adapter only holds a little memory more.
      await Promise.all(this.pool.live.map((s) => s.unloadLoraAdapter(adapterName(previous)).catch(() => undefined)));
    }
    this.removeOlderWeights(version);
  }

  private async load(server: RemoteServer, version: number, folder: string): Promise<void> {
    if (this.push === 'lora') {
      const name = adapterName(version);
      // An adapter of this name left by an earlier, interrupted run of this step is replaced (vLLM refuses to load a name twice).
      if ((await server.models()).includes(name)) await server.unloadLoraAdapter(name);
      await server.loadLoraAdapter(name, folder);
      const ids = await server.models();
      if (!ids.includes(name)) throw server.broken('GET /v1/models', `the adapter ${name} just loaded`, ids);
      this.modelOf.set(server, name);
    } else {
      await server.updateWeightsFromDisk(folder, String(version));
      // SGLang and tinyzero serve report the folder they serve; a server without the endpoint is taken at its word.
      const info = await server.modelInfo();
      if (info !== null && info.model_path !== undefined && resolve(String(info.model_path)) !== folder) {
        throw server.broken('GET /get_model_info', `model_path ${folder} after the update`, info);
      }
      this.modelOf.set(server, await this.baseModel(server));
    }
  }

  /** The actor's weights as a folder the servers load: HF layout in F32, or a PEFT adapter; written beside, then renamed into place. */
  private async writeWeights(version: number, actor: { model: CausalLM; lora?: LoraModel }, baseDir: string): Promise<string> {
    mkdirSync(this.weightsRoot, { recursive: true });
    const folder = join(this.weightsRoot, weightsFolderName(version));
    const tmp = join(this.weightsRoot, `.${weightsFolderName(version)}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      await saveTrainedWeights(actor.model, actor.lora, tmp, baseDir, baseDir);
      // A folder of this step left by an earlier, interrupted run of it is replaced.
      rmSync(folder, { recursive: true, force: true });
      renameSync(tmp, folder);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    return folder;
  }

  private removeOlderWeights(version: number): void {
    const keep = weightsFolderName(version);
    for (const name of readdirSync(this.weightsRoot)) {
      if (name !== keep && /^step_\d+$/.test(name)) rmSync(join(this.weightsRoot, name), { recursive: true, force: true });
    }
  }

  /** The prompts' n samples each, from the servers, in the local rollout's batch layout. */
  async rollout(prompts: PromptRow[], options: RolloutOptions): Promise<RolloutBatch> {
    const sampling: RemoteSampling = {
      n: options.n, maxTokens: options.responseLength, temperature: options.temperature, topP: options.topP, topK: options.topK,
      eosTokenIds: options.eosTokenIds, ignoreEos: options.ignoreEos,
    };
    const R = options.responseLength;
    const rows = prompts.length * options.n;
    const responseIds = new Int32Array(rows * R).fill(options.padTokenId);
    const responseMask = new Float32Array(rows * R);
    let tokens = 0;
    await this.pool.dispatch(prompts.map((prompt, p) => async (server: RemoteServer) => {
      const samples = await completeOnServer(server, this.modelOf.get(server)!, prompt.ids, sampling);
      samples.forEach((sample, i) => {
        const row = p * options.n + i;
        responseIds.set(sample.tokenIds, row * R);
        responseMask.fill(1, row * R, row * R + sample.tokenIds.length);
        tokens += sample.tokenIds.length;
      });
    }));
    options.onProgress?.(rows, rows, tokens);
    return assembleBatch({
      prompts: prompts.flatMap((p) => Array.from({ length: options.n }, () => p)),
      uid: prompts.flatMap((_, i) => Array.from({ length: options.n }, () => i)),
      promptLength: options.promptLength, responseLength: R, responseIds, responseMask, width: R, padTokenId: options.padTokenId,
    });
  }
}
