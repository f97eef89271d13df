/** HF/torch Linear: weight [out, in], optional bias [out]; y = x @ W^T + b. */
import { linear, type Tensor } from '../tensor/index.js';
import { zerosInit, type Init } from './init.js';
import type { LoraAdapter } from './lora.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';

export interface LinearOptions {
  /** Weight initialiser, e.g. normalInit(rng, config.initializer_range). */
  init: Init;
  /** Add a bias (default true, as torch.nn.Linear; Llama projections pass false, Qwen2 q/k/v true). */
  bias?: boolean;
  /** Bias initialiser (HF: zeros). */
  biasInit?: Init;
  /** 'f16': the weight is a frozen f16 tensor (backends with halfStorage); the bias stays f32. */
  weightDtype?: 'f32' | 'f16';
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  /** A LoRA adapter on this layer (nn/lora.ts), applied while its switch is on; not a child module. */
  adapter: LoraAdapter | null = null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions) {
    super();
    this.weight = this.addParameter('weight', [outFeatures, inFeatures], options.init, undefined, options.weightDtype);
    this.bias = (options.bias ?? true) ? this.addParameter('bias', [outFeatures], options.biasInit ?? zerosInit()) : null;
  }

  /** x [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    const y = linear(x, this.weight, this.bias);
    return this.adapter ? this.adapter.apply(x, y) : y;
  }
}
