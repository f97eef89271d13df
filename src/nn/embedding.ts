/** Token embedding table [vocab, dim]; forward gathers rows by i32 id (scatter-add backward). */
import { embedding, type Tensor } from '../tensor/index.js';
import type { Init } from './init.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';

export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, init: Init) {
    super();
    this.weight = this.addParameter('weight', [numEmbeddings, embeddingDim], init);
  }

  /** ids [...] (i32) -> [..., dim] */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
