/**
 * LoRA (Hu et al. 2021, as Hugging Face PEFT implements it): a frozen base Linear plus a trainable
 * low-rank update, y = base(x) + (alpha / r) * (x @ A^T) @ B^T with A [r, in] and B [out, r] in
 * f32. B starts at zero, so a fresh adapter leaves the base model's outputs unchanged; A starts
 * as PEFT's kaiming-uniform (a = sqrt(5)): uniform(-1/sqrt(in), 1/sqrt(in)).
 *
 * Adapters attach to the base Linear without becoming its children: the base model's parameter
 * names (and so its checkpoint loading) stay as they are, and the adapters are a separate set with
 * their own names (PEFT's `<module path>.lora_A.weight`). One `LoraSwitch` turns every adapter of
 * a model off at once: the base model alone, which is the reference policy of a LoRA run.
 */
import { add, linear, mul, type Tensor } from '../tensor/index.js';
import { uninitialized, zerosInit } from './init.js';
import type { Linear } from './linear.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';
import type { Prng } from '../util/prng.js';

/** Whether the adapters of one model are applied; shared by all of them. */
export class LoraSwitch {
  enabled = true;

  /** Runs fn with the adapters off (the base model), restoring the previous state afterwards. */
  withoutAdapters<T>(fn: () => T): T {
    const before = this.enabled;
    this.enabled = false;
    try {
      return fn();
    } finally {
      this.enabled = before;
    }
  }

  async withoutAdaptersAsync<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.enabled;
    this.enabled = false;
    try {
      return await fn();
    } finally {
      this.enabled = before;
    }
  }
}


/** The trainable pair of one Linear: lora_A [r, in], lora_B [out, r]. */
export class LoraAdapter extends Module {
  readonly lora_A: { weight: Parameter };
  readonly lora_B: { weight: Parameter };
  readonly scaling: number;

  constructor(readonly base: Linear, readonly rank: number, readonly alpha: number, rng: Prng, readonly switch_: LoraSwitch) {
    super();
    const backend = base.weight.backend;
    this.scaling = alpha / rank;
    const a = this.addModule('lora_A', new LoraFactor(rank, base.inFeatures, backend));
    const b = this.addModule('lora_B', new LoraFactor(base.outFeatures, rank, backend, true));
    const bound = 1 / Math.sqrt(base.inFeatures);
    const init = new Float32Array(rank * base.inFeatures);
    for (let i = 0; i < init.length; i++) init[i] = (rng.uniform() * 2 - 1) * bound;
    a.loadParameter('weight', init);
    this.lora_A = a;
    this.lora_B = b;
  }

  /**
   * The low-rank update of x [..., in] -> [..., out], scaled. The scale is applied to the rank-r
   * intermediate rather than the output: one out-wide tensor less per adapted layer and token kept
   * for the backward (for all-linear on Qwen2.5-0.5B, 12,672 floats per token per layer).
   */
  delta(x: Tensor): Tensor {
    return linear(mul(linear(x, this.lora_A.weight), this.scaling), this.lora_B.weight);
  }

  /** base(x) plus the update while the switch is on. */
  apply(x: Tensor, baseOut: Tensor): Tensor {
    return this.switch_.enabled ? add(baseOut, this.delta(x)) : baseOut;
  }
}

/** One factor (`lora_A` or `lora_B`): a module holding `weight` [rows, cols], as PEFT's nn.Linear without bias. */
class LoraFactor extends Module {
  readonly weight: Parameter;

  constructor(rows: number, cols: number, backend: Parameter['backend'], zero = false) {
    super();
    this.weight = this.addParameter('weight', [rows, cols], zero ? zerosInit() : uninitialized(), backend);
  }
}
