/**
 * The weights a server answers with: the base model (a Hugging Face folder), the LoRA adapters
 * loaded on top of it by name, and a weight version that increases with every change.
 *
 * A generation holds a lease on the weights it started with, so replacing them (SGLang's
 * update_weights_from_disk) or unloading an adapter never disturbs it: the replaced model is freed
 * when its last lease ends, and requests that start after the swap use the new weights.
 *
 * Adapters: a Linear holds one adapter at a time, so every adapter is loaded detached and the one a
 * generation asks for is attached while it runs (generations run one at a time, and loading attaches
 * and detaches within one synchronous call, so a running generation never sees another's adapter).
 */
import { loadCausalLM } from '../models/load.js';
import { loadLora, type LoraModel } from '../models/lora.js';
import type { CausalLM } from '../models/llama.js';
import { ChatTemplate, loadTokenizer, type ChatMessage, type Tokenizer } from '../tokenizer/index.js';
import { ApiError } from './errors.js';

export interface ModelHostOptions {
  /** Hugging Face folder: config.json, safetensors, tokenizer. */
  modelDir: string;
  /** A PEFT adapter applied to the served model itself (as `tinyzero generate --lora`). */
  loraDir?: string;
  /** The model id clients ask for (default: modelDir as given, as vLLM does). */
  servedModelName?: string;
  /** Jinja chat template replacing (or supplying) the tokenizer's. */
  chatTemplate?: string;
}

interface Adapter {
  readonly name: string;
  readonly path: string;
  /** The weight version that loaded it (listed by /v1/models). */
  readonly version: number;
}

/** One loaded base model with its adapters: replaced as a whole by a weight update. */
class Weights {
  users = 0;
  retired = false;
  readonly loras = new Map<string, LoraModel>();
  /** Adapters unloaded while a generation could still be using them. */
  readonly retiredLoras: LoraModel[] = [];
  #attached: LoraModel | null = null;

  constructor(readonly model: CausalLM, readonly path: string, readonly baseLora: LoraModel | null) {
    detach(baseLora);
  }

  attach(lora: LoraModel | null): void {
    if (this.#attached === lora) return;
    detach(this.#attached);
    if (lora) for (const a of lora.adapters.values()) a.base.adapter = a;
    this.#attached = lora;
  }

  /** Loads an adapter onto this model, left detached; whatever was attached stays attached. */
  loadDetached(dir: string, where: string): LoraModel {
    const before = this.#attached;
    this.attach(null);
    try {
      const lora = loadLora(this.model, dir, where);
      detach(lora);
      return lora;
    } finally {
      this.attach(before);
    }
  }

  dispose(): void {
    this.attach(null);
    for (const l of [...this.loras.values(), ...this.retiredLoras, ...(this.baseLora ? [this.baseLora] : [])]) l.dispose();
    this.model.dispose();
  }
}

function detach(lora: LoraModel | null): void {
  if (lora) for (const a of lora.adapters.values()) if (a.base.adapter === a) a.base.adapter = null;
}

/** What a generation runs on; release() when done. */
export interface Lease {
  readonly model: CausalLM;
  readonly weightVersion: number;
  /** Attaches the lease's adapter (or none): call before each generation step sequence. */
  activate(): void;
  release(): void;
}

export class ModelHost {
  readonly tokenizer: Tokenizer;
  readonly modelId: string;
  readonly modelDir: string;
  readonly #loraDir: string | undefined;
  readonly #chatTemplate: ChatTemplate | null;
  readonly #adapters = new Map<string, Adapter>();
  #weights: Weights;
  #version = 0;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(options: ModelHostOptions) {
    this.modelDir = options.modelDir;
    this.modelId = options.servedModelName ?? options.modelDir;
    this.#loraDir = options.loraDir;
    this.tokenizer = loadTokenizer(options.modelDir);
    this.#chatTemplate = options.chatTemplate === undefined ? null : new ChatTemplate(options.chatTemplate, {
      eos_token: this.tokenizer.idToToken(this.tokenizer.eosTokenId) ?? null,
      bos_token: this.tokenizer.bosTokenId === null ? null : this.tokenizer.idToToken(this.tokenizer.bosTokenId) ?? null,
    }, '--chat-template');
    this.#weights = this.#load(options.modelDir);
  }

  get weightVersion(): number {
    return this.#version;
  }

  /** The context length: prompt plus generated tokens must fit it. */
  get maxPositions(): number {
    return this.#weights.model.model.rot.length;
  }

  get vocabSize(): number {
    return this.#weights.model.config.vocab_size;
  }

  #load(dir: string): Weights {
    const model = loadCausalLM(dir, { frozen: true });
    let baseLora: LoraModel | null = null;
    try {
      if (this.#loraDir) baseLora = loadLora(model, this.#loraDir, `--lora ${this.#loraDir}`);
      const weights = new Weights(model, dir, baseLora);
      for (const a of this.#adapters.values()) weights.loras.set(a.name, weights.loadDetached(a.path, `adapter ${a.name} (${a.path})`));
      return weights;
    } catch (err) {
      baseLora?.dispose();
      model.dispose();
      throw err;
    }
  }

  /** Renders a chat with the --chat-template, else the tokenizer's own. */
  renderChat(messages: readonly ChatMessage[]): string {
    try {
      if (this.#chatTemplate) return this.#chatTemplate.render(messages, { addGenerationPrompt: true });
      return this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    } catch (e) {
      throw new ApiError(400, `${(e as Error).message} (start the server with --chat-template FILE to supply one)`, 'messages');
    }
  }

  /** Checks a requested model id: the served model (null means it too) or a loaded adapter. */
  resolve(modelId: string | null): string | null {
    if (modelId === null || modelId === this.modelId) return null;
    if (this.#adapters.has(modelId)) return modelId;
    throw new ApiError(404, `The model \`${modelId}\` does not exist. Served: ${[this.modelId, ...this.#adapters.keys()].join(', ')}`, 'model', 'model_not_found');
  }

  /** The weights a generation for `adapter` (from resolve) runs on, pinned until release(). */
  lease(adapter: string | null): Lease {
    const weights = this.#weights;
    const lora = adapter === null ? weights.baseLora : weights.loras.get(adapter);
    if (lora === undefined) throw new ApiError(404, `The model \`${adapter}\` was unloaded`, 'model', 'model_not_found');
    weights.users++;
    let released = false;
    return {
      model: weights.model,
      weightVersion: this.#version,
      activate: () => weights.attach(lora),
      release: () => {
        if (released) return;
        released = true;
        weights.users--;
        this.#collect(weights);
      },
    };
  }

  #collect(weights: Weights): void {
    if (weights.users > 0) return;
    if (weights.retired) {
      weights.dispose();
      return;
    }
    for (const l of weights.retiredLoras.splice(0)) l.dispose();
  }

  /**
   * SGLang's update_weights_from_disk: a Hugging Face folder with the same architecture and
   * vocabulary. Loaded aside first, so a failure leaves the served weights as they were.
   */
  updateFromDisk(dir: string): number {
    const old = this.#weights;
    const next = this.#load(dir);
    const a = old.model.config;
    const b = next.model.config;
    const mismatch = (['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'model_type'] as const).find((k) => a[k] !== b[k]);
    if (mismatch) {
      next.dispose();
      throw new ApiError(400, `${dir}: ${mismatch} is ${String(b[mismatch])}, the served model's is ${String(a[mismatch])} (a weight update must keep the architecture)`, 'model_path');
    }
    this.#weights = next;
    old.retired = true;
    this.#collect(old);
    return ++this.#version;
  }

  /**
   * vLLM's load_lora_adapter: a PEFT folder served as model id `name`. With `inplace` (vLLM's
   * load_inplace) an adapter of that name is replaced: generations already running keep the old one.
   */
  loadAdapter(name: string, path: string, inplace = false): number {
    if (name === this.modelId) throw new ApiError(400, `lora_name '${name}' is the served model's own id`, 'lora_name');
    if (this.#adapters.has(name) && !inplace) throw new ApiError(400, `The lora adapter '${name}' has already been loaded (unload it first, or pass load_inplace: true)`, 'lora_name');
    let lora: LoraModel;
    try {
      lora = this.#weights.loadDetached(path, `lora_path ${path}`);
    } catch (e) {
      throw new ApiError(400, (e as Error).message, 'lora_path');
    }
    const replaced = this.#weights.loras.get(name);
    if (replaced) this.#weights.retiredLoras.push(replaced);
    this.#weights.loras.set(name, lora);
    this.#version++;
    this.#adapters.set(name, { name, path, version: this.#version });
    this.#collect(this.#weights);
    return this.#version;
  }

  unloadAdapter(name: string): number {
    if (!this.#adapters.has(name)) throw new ApiError(404, `The lora adapter '${name}' is not loaded`, 'lora_name', 'model_not_found');
    this.#adapters.delete(name);
    const weights = this.#weights;
    const lora = weights.loras.get(name)!;
    weights.loras.delete(name);
    weights.retiredLoras.push(lora);
    this.#collect(weights);
    return ++this.#version;
  }

  /** The model ids served, for /v1/models: the base first, then the adapters. */
  models(): { id: string; root: string; parent: string | null; weightVersion: number }[] {
    return [
      { id: this.modelId, root: this.#weights.path, parent: null, weightVersion: this.#version },
      ...[...this.#adapters.values()].map((a) => ({ id: a.name, root: a.path, parent: this.modelId, weightVersion: a.version })),
    ];
  }

  get weightsPath(): string {
    return this.#weights.path;
  }

  /** Frees the weights; call once no generation runs. */
  dispose(): void {
    this.#weights.retired = true;
    this.#collect(this.#weights);
  }
}
