/**
 * LoRA on a causal LM or value model, with Hugging Face PEFT's names and files: adapters on the
 * Linear layers named by `target_modules`, saved as `adapter_config.json` +
 * `adapter_model.safetensors` with tensors `base_model.model.<module path>.lora_A.weight` (and
 * lora_B), which PEFT and vLLM load. The base model's parameters are frozen (no gradients); only
 * the adapters train, plus PEFT's `modules_to_save` (a value model's `score` head), which train in
 * full and are saved as PEFT saves them: `base_model.model.score.weight` (PEFT adds and strips
 * `modules_to_save.default` itself). veRL's keys: lora_rank, lora_alpha, target_modules.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Linear, LoraAdapter, LoraSwitch, type Module, type Parameter } from '../nn/index.js';
import { ValueModel } from './llama.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { Prng } from '../util/prng.js';
import { readSafetensors, rawToFloat32 } from './safetensors.js';
import { writeSafetensors } from './safetensors-write.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** PEFT's prefix for a model wrapped by PeftModelForCausalLM (LoraModel's `model`). */
const PEFT_PREFIX = 'base_model.model.';
/** Linear layers `all-linear` leaves out, as PEFT does: the output layer. */
const OUTPUT_LAYERS = new Set(['lm_head', 'score']);

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** 'all-linear' or module names (the last part of a module path: q_proj, down_proj, ...). */
  targetModules: 'all-linear' | string[];
  /** PEFT's modules_to_save: module paths trained in full beside the adapters (a value model's head, `score`). */
  modulesToSave?: string[];
}

/** Checks a LoRA config's values; `where` names the config keys in errors. */
export function checkLoraConfig(c: LoraConfig, where: string): void {
  if (!Number.isInteger(c.rank) || c.rank < 1) throw new Error(`${where}.lora_rank: expected a positive integer (0 turns LoRA off), got ${c.rank}`);
  if (typeof c.alpha !== 'number' || !Number.isFinite(c.alpha) || c.alpha === 0) {
    throw new Error(`${where}.lora_alpha: expected a non-zero number (the update is scaled by lora_alpha / lora_rank), got ${c.alpha}`);
  }
  if (c.targetModules !== 'all-linear' && (!Array.isArray(c.targetModules) || c.targetModules.length === 0
    || c.targetModules.some((m) => typeof m !== 'string' || m === ''))) {
    throw new Error(`${where}.target_modules: expected all-linear or a non-empty list of module names such as [q_proj,v_proj], got ${JSON.stringify(c.targetModules)}`);
  }
}

/** The Linear layers of `model` that `targets` names, by module path. */
export function targetLinears(model: Module, targets: LoraConfig['targetModules'], where: string): [string, Linear][] {
  const linears = model.namedModules().filter((e): e is [string, Linear] => e[1] instanceof Linear);
  const leaf = (path: string): string => path.slice(path.lastIndexOf('.') + 1);
  if (targets === 'all-linear') return linears.filter(([p]) => !OUTPUT_LAYERS.has(leaf(p)));
  const names = new Set(linears.map(([p]) => leaf(p)));
  const unknown = targets.filter((t) => !names.has(t));
  if (unknown.length > 0) {
    throw new Error(`${where}.target_modules: ${unknown.join(', ')} name${unknown.length > 1 ? '' : 's'} no Linear module of the model; `
      + `it has ${[...names].join(', ')}`);
  }
  const wanted = new Set(targets);
  return linears.filter(([p]) => wanted.has(leaf(p)));
}

/** The adapters of one model, their switch, and PEFT's names for them. */
export class LoraModel {
  readonly switch = new LoraSwitch();
  readonly adapters = new Map<string, LoraAdapter>();
  /** The modules_to_save by path: trained in full, their parameters stay the model's own. */
  readonly saved = new Map<string, Module>();

  /**
   * Attaches fresh adapters (B = 0: the model's outputs are unchanged) and freezes every base
   * parameter but those of the modules to save.
   */
  constructor(readonly model: Module, readonly config: LoraConfig, seed: number, where = 'lora') {
    checkLoraConfig(config, where);
    const targets = targetLinears(model, config.targetModules, where);
    if (targets.length === 0) throw new Error(`${where}.target_modules: no Linear module of the model is targeted`);
    const modules = new Map(model.namedModules());
    for (const path of config.modulesToSave ?? []) {
      const m = modules.get(path);
      if (!m) throw new Error(`${where}: the model has no module ${path} to train in full (modules_to_save)`);
      if (targets.some(([p]) => p === path)) throw new Error(`${where}.target_modules: ${path} trains in full (modules_to_save), it cannot also have an adapter`);
      this.saved.set(path, m);
    }
    for (const p of model.parameters()) p.requiresGrad = false;
    for (const m of this.saved.values()) for (const p of m.parameters()) p.requiresGrad = true;
    const rng = new Prng(seed);
    for (const [path, lin] of targets) {
      if (lin.adapter) throw new Error(`${where}: ${path} already has a LoRA adapter`);
      const adapter = new LoraAdapter(lin, config.rank, config.alpha, rng, this.switch);
      lin.adapter = adapter;
      this.adapters.set(path, adapter);
    }
  }

  /** [PEFT tensor name, parameter] for every adapter weight in module order, then the modules to save. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [path, a] of this.adapters) {
      out.push([`${PEFT_PREFIX}${path}.lora_A.weight`, a.lora_A.weight], [`${PEFT_PREFIX}${path}.lora_B.weight`, a.lora_B.weight]);
    }
    for (const [path, m] of this.saved) {
      for (const [name, p] of m.namedParameters()) out.push([`${PEFT_PREFIX}${path}.${name}`, p]);
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** PEFT's target_modules: the distinct layer names adapted. */
  moduleNames(): string[] {
    return [...new Set([...this.adapters.keys()].map((p) => p.slice(p.lastIndexOf('.') + 1)))];
  }

  /** Writes adapter_config.json and adapter_model.safetensors (f32) into `dir`, each file atomically. */
  async save(dir: string, baseModelPath: string | null = null): Promise<void> {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, p] of this.namedParameters()) tensors.set(name, { shape: p.shape.slice(), data: (await p.data()) as Float32Array });
    mkdirSync(dir, { recursive: true });
    writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { dtype: 'F32' });
    writeFileAtomic(join(dir, ADAPTER_CONFIG), `${JSON.stringify(peftConfig(this, baseModelPath), null, 2)}\n`);
  }

  /**
   * Overwrites every adapter weight from a PEFT folder written by `save` for the same model and
   * config (a checkpoint being resumed); checks every name and shape before writing any.
   */
  loadWeights(dir: string): void {
    const file = join(dir, ADAPTER_WEIGHTS);
    if (!existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_WEIGHTS} (the checkpoint has no LoRA adapters, but this run uses LoRA)`);
    const { tensors } = readSafetensors(file);
    const own = this.namedParameters();
    const data = own.map(([name, p]) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`${file}: lacks ${name} (saved with other target_modules?)`);
      if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(`${file}: ${name} has shape [${t.shape.join(', ')}], this run's adapter is [${p.shape.join(', ')}] (saved with another lora_rank?)`);
      }
      return rawToFloat32(t, `${file}: ${name}`);
    });
    if (tensors.size !== own.length) throw new Error(`${file}: holds ${tensors.size} tensors, this run's adapters ${own.length} (saved with other target_modules or modules_to_save?)`);
    own.forEach(([, p], i) => p.backend.write(p.buffer, data[i]!, p.offset));
  }

  /** Detaches the adapters and frees their weights (the base model, modules to save included, stays usable). */
  dispose(): void {
    for (const a of this.adapters.values()) {
      a.base.adapter = null;
      a.dispose();
    }
    this.adapters.clear();
  }
}

function peftConfig(lora: LoraModel, base: string | null): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    // PeftModelForTokenClassification is the wrapper of AutoModelForTokenClassification, veRL's critic.
    task_type: lora.model instanceof ValueModel ? 'TOKEN_CLS' : 'CAUSAL_LM',
    base_model_name_or_path: base,
    r: lora.config.rank,
    lora_alpha: lora.config.alpha,
    lora_dropout: 0,
    target_modules: lora.moduleNames(),
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: lora.saved.size > 0 ? [...lora.saved.keys()] : null,
    use_rslora: false,
    use_dora: false,
    layers_to_transform: null,
  };
}

/** A PEFT folder's LoRA settings, checked. */
export function readLoraConfig(dir: string): LoraConfig {
  const file = join(dir, ADAPTER_CONFIG);
  if (!existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_CONFIG} (expected a PEFT LoRA folder)`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (json.peft_type !== undefined && json.peft_type !== 'LORA') throw new Error(`${file}: peft_type is ${String(json.peft_type)}, only LORA is supported`);
  for (const key of ['use_dora', 'use_rslora'] as const) {
    if (json[key] === true) throw new Error(`${file}: ${key} is true, which is not supported (plain LoRA only)`);
  }
  const tm = json.target_modules;
  const config: LoraConfig = {
    rank: json.r as number,
    alpha: json.lora_alpha as number,
    targetModules: tm === 'all-linear' ? 'all-linear' : Array.isArray(tm) ? (tm as string[]) : typeof tm === 'string' ? [tm] : (tm as string[]),
  };
  checkLoraConfig(config, file);
  return config;
}

/**
 * Attaches the adapters saved in a PEFT folder to `model` (base parameters frozen). Every tensor
 * must name a Linear of the model with matching shapes, else nothing is attached.
 */
export function loadLora(model: Module, dir: string, where = dir): LoraModel {
  const config = readLoraConfig(dir);
  const file = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(file)) throw new Error(`${dir}: no ${ADAPTER_WEIGHTS}`);
  const { tensors } = readSafetensors(file);
  const linears = new Map(model.namedModules().filter((e): e is [string, Linear] => e[1] instanceof Linear));
  const byPath = new Map<string, { A?: Float32Array; B?: Float32Array }>();
  for (const [name, t] of tensors) {
    const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
    if (!m) throw new Error(`${file}: tensor ${name} is not a LoRA weight (expected base_model.model.<module>.lora_A.weight or lora_B)`);
    const [, path, which] = m as unknown as [string, string, 'A' | 'B'];
    const lin = linears.get(path);
    if (!lin) throw new Error(`${file}: ${name} adapts ${path}, which is not a Linear module of the model: the adapter was made for another base`);
    const want = which === 'A' ? [config.rank, lin.inFeatures] : [lin.outFeatures, config.rank];
    if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
      throw new Error(`${file}: ${name} has shape [${t.shape.join(', ')}], the model's ${path} with r = ${config.rank} needs [${want.join(', ')}]: the adapter was made for another base`);
    }
    const entry = byPath.get(path) ?? {};
    entry[which] = rawToFloat32(t, `${file}: ${name}`);
    byPath.set(path, entry);
  }
  for (const [path, e] of byPath) if (!e.A || !e.B) throw new Error(`${file}: ${path} has lora_${e.A ? 'A' : 'B'} but not lora_${e.A ? 'B' : 'A'}`);
  if (byPath.size === 0) throw new Error(`${file}: no LoRA tensors`);
  const names = [...new Set([...byPath.keys()].map((p) => p.slice(p.lastIndexOf('.') + 1)))];
  const lora = new LoraModel(model, { ...config, targetModules: names }, 0, where);
  // The targets by name may cover layers the file does not adapt (layers_to_transform): refuse.
  for (const path of lora.adapters.keys()) {
    if (!byPath.has(path)) {
      lora.dispose();
      throw new Error(`${file}: no adapter for ${path}, though other ${path.slice(path.lastIndexOf('.') + 1)} layers have one (per-layer adapters are not supported)`);
    }
  }
  for (const [path, { A, B }] of byPath) {
    const a = lora.adapters.get(path)!;
    a.lora_A.weight.backend.write(a.lora_A.weight.buffer, A!, a.lora_A.weight.offset);
    a.lora_B.weight.backend.write(a.lora_B.weight.buffer, B!, a.lora_B.weight.offset);
  }
  return lora;
}

/** W + (alpha / r) * B @ A in float64, rounded once to f32: the merged weight of one layer. */
export function mergedWeight(w: Float32Array, a: Float32Array, b: Float32Array, out: number, inF: number, rank: number, scaling: number): Float32Array {
  const merged = new Float32Array(out * inF);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let r = 0; r < rank; r++) s += b[o * rank + r]! * a[r * inF + i]!;
      merged[o * inF + i] = w[o * inF + i]! + scaling * s;
    }
  }
  return merged;
}

/**
 * Folds every adapter into its base weight (W += (alpha / r) * B @ A) and detaches the adapters:
 * the model then computes what base + adapters computed. The base weights must be f32.
 */
export async function mergeLora(lora: LoraModel): Promise<void> {
  for (const [path, a] of lora.adapters) {
    const w = a.base.weight;
    if (w.dtype !== 'f32') throw new Error(`merge-lora: ${path}.weight is ${w.dtype}; merging needs the base in f32`);
    const merged = mergedWeight((await w.data()) as Float32Array, (await a.lora_A.weight.data()) as Float32Array,
      (await a.lora_B.weight.data()) as Float32Array, a.base.outFeatures, a.base.inFeatures, a.rank, a.scaling);
    w.backend.write(w.buffer, merged, w.offset);
  }
  lora.dispose();
}
