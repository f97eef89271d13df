/** Token embedding table [vocab, dim]; forward gathers rows by i32 id (scatter-add backward). */
import { embedding, type Tensor } from '../tensor/index.js';
import type { Init } from './init.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';

export class Embedding extends Module {
  readonly weight: Parameter;

  /** `dtype` 'f16': a frozen f16 table (backends with halfStorage). */
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, init: Init, dtype: 'f32' | 'f16' = 'f32') {
    super();
    this.weight = this.addParameter('weight', [numEmbeddings, embeddingDim], init, undefined, dtype);
  }

  /** ids [...] (i32) -> [..., dim] */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
