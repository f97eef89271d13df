/**
 * AdamW with PyTorch semantics (decoupled weight decay, bias correction), one fused backend kernel
 * per parameter. Defaults are veRL's: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. As in torch,
 * each parameter counts its own steps (a parameter without a gradient on some step is skipped and
 * its bias correction does not advance), and moments are created on a parameter's first update.
 */
import { keep, zeros, formatShape, type Tensor } from '../tensor/index.js';
import { Module } from './module.js';
import type { Parameter } from './parameter.js';

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Host copy of one parameter's moments. */
export interface AdamWParamState {
  /** Updates this parameter has received (its bias-correction step). */
  step: number;
  shape: number[];
  m: Float32Array;
  v: Float32Array;
}

/** Everything needed to continue bit-identically after a restart. */
export interface AdamWState {
  /** Calls to step(). */
  step: number;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** By parameter name; parameters never updated have no entry. */
  params: Record<string, AdamWParamState>;
}

function checkHyperparameters(lr: number, beta1: number, beta2: number, eps: number, weightDecay: number): void {
  const bad = (what: string, v: number): Error => new Error(`AdamW: invalid ${what} ${v}`);
  if (!(lr >= 0) || !Number.isFinite(lr)) throw bad('learning rate', lr);
  if (!(beta1 >= 0 && beta1 < 1)) throw bad('beta1', beta1);
  if (!(beta2 >= 0 && beta2 < 1)) throw bad('beta2', beta2);
  if (!(eps >= 0)) throw bad('eps', eps);
  if (!(weightDecay >= 0) || !Number.isFinite(weightDecay)) throw bad('weight decay', weightDecay);
}

interface Moments {
  step: number;
  m: Tensor;
  v: Tensor;
}

export class AdamW {
  /** Learning rate for the next step(); an LR scheduler writes it. */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Number of step() calls so far. */
  stepCount = 0;
  readonly #params: Map<string, Parameter>;
  readonly #state = new Map<string, Moments>();

  /** `params`: a module (its named parameters) or [name, parameter] pairs; names key the saved state. */
  constructor(params: Module | Iterable<[string, Parameter]>, options: AdamWOptions) {
    const pairs = params instanceof Module ? params.namedParameters() : [...params];
    this.#params = new Map();
    for (const [name, p] of pairs) {
      if (this.#params.has(name)) throw new Error(`AdamW: parameter name '${name}' given twice`);
      if (p.dtype !== 'f32' || !p.isContiguous() || p.offset !== 0 || p.storage.length !== p.size) {
        throw new Error(`AdamW: parameter ${name} ${formatShape(p.shape)} must be a dense f32 tensor owning its buffer`);
      }
      this.#params.set(name, p);
    }
    this.lr = options.lr;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.#validate();
  }

  #validate(): void {
    checkHyperparameters(this.lr, this.beta1, this.beta2, this.eps, this.weightDecay);
  }

  /** Parameter names in the order given. */
  get paramNames(): string[] {
    return [...this.#params.keys()];
  }

  /** The optimized parameters in the order given (a model's, or LoRA adapters that are no module's children). */
  get parameters(): Parameter[] {
    return [...this.#params.values()];
  }

  /** One update of every parameter that has a gradient; parameters without one are left alone. */
  step(): void {
    this.#validate();
    this.stepCount++;
    for (const [name, p] of this.#params) {
      const g = p.grad;
      if (!g) continue;
      p.assertAlive(`AdamW.step (${name})`);
      g.assertAlive(`AdamW.step (gradient of ${name})`);
      if (g.size !== p.size || !g.isContiguous() || g.offset !== 0 || g.dtype !== 'f32') {
        throw new Error(`AdamW.step: gradient of ${name} must be a dense f32 tensor of shape ${formatShape(p.shape)}, got ${formatShape(g.shape)}`);
      }
      const s = this.#moments(name, p);
      s.step++;
      if (p.size === 0) continue;
      p.backend.adamw(p.buffer, g.buffer, s.m.buffer, s.v.buffer,
        { n: p.size, lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: s.step });
    }
  }

  #moments(name: string, p: Parameter): Moments {
    let s = this.#state.get(name);
    if (!s) {
      s = { step: 0, m: keep(zeros(p.shape, 'f32', p.backend)), v: keep(zeros(p.shape, 'f32', p.backend)) };
      this.#state.set(name, s);
    }
    return s;
  }

  /** Frees the gradients of the optimized parameters. */
  zeroGrad(): void {
    for (const p of this.#params.values()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  async stateDict(): Promise<AdamWState> {
    const params: Record<string, AdamWParamState> = {};
    for (const [name, s] of this.#state) {
      params[name] = { step: s.step, shape: s.m.shape.slice(), m: (await s.m.data()) as Float32Array, v: (await s.v.data()) as Float32Array };
    }
    return {
      step: this.stepCount, lr: this.lr, betas: [this.beta1, this.beta2], eps: this.eps, weightDecay: this.weightDecay, params,
    };
  }

  /**
   * Restores a state saved by stateDict(): step counts, hyperparameters and moments. Everything is
   * checked before anything changes; parameters absent from the state start fresh.
   */
  loadStateDict(state: AdamWState): void {
    for (const [name, ps] of Object.entries(state.params)) {
      const p = this.#params.get(name);
      if (!p) throw new Error(`AdamW.loadStateDict: state has parameter '${name}', which this optimizer does not have`);
      const sameShape = ps.shape.length === p.shape.length && ps.shape.every((d, i) => d === p.shape[i]);
      if (!sameShape || ps.m.length !== p.size || ps.v.length !== p.size) {
        throw new Error(`AdamW.loadStateDict: ${name} expects shape ${formatShape(p.shape)}, state has ${formatShape(ps.shape)} (m ${ps.m.length}, v ${ps.v.length} values)`);
      }
      if (!Number.isInteger(ps.step) || ps.step < 0) throw new Error(`AdamW.loadStateDict: ${name} has invalid step ${ps.step}`);
    }
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`AdamW.loadStateDict: invalid step ${state.step}`);
    checkHyperparameters(state.lr, state.betas[0], state.betas[1], state.eps, state.weightDecay);
    this.#disposeState();
    for (const [name, ps] of Object.entries(state.params)) {
      const s = this.#moments(name, this.#params.get(name)!);
      s.step = ps.step;
      if (ps.m.length > 0) {
        s.m.backend.write(s.m.buffer, ps.m, 0);
        s.v.backend.write(s.v.buffer, ps.v, 0);
      }
    }
    this.stepCount = state.step;
    this.lr = state.lr;
    [this.beta1, this.beta2] = state.betas;
    this.eps = state.eps;
    this.weightDecay = state.weightDecay;
  }

  #disposeState(): void {
    for (const s of this.#state.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.#state.clear();
  }

  /** Frees the moment buffers (not the parameters). */
  dispose(): void {
    this.#disposeState();
  }
}
