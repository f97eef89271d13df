/** RMSNorm (Llama/Qwen2): x * rsqrt(mean(x^2) + eps) * weight, weight [dim] initialised to ones. */
import { rmsnorm, type Tensor } from '../tensor/index.js';
import { onesInit, type Init } from './init.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';

export class RMSNorm extends Module {
  readonly weight: Parameter;

  /** eps defaults to 1e-6 (HF LlamaRMSNorm / Qwen2RMSNorm; configs set rms_norm_eps). */
  constructor(readonly dim: number, readonly eps = 1e-6, init: Init = onesInit()) {
    super();
    this.weight = this.addParameter('weight', [dim], init);
  }

  /** x [..., dim] -> [..., dim] */
  forward(x: Tensor): Tensor {
    return rmsnorm(x, this.weight, this.eps);
  }
}
