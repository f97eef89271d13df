/** KL coefficient controllers for KL-in-reward (docs/verl-compat.md#kl-controller; Ziegler et al. 2019). */

/** `algorithm.kl_ctrl.type`: the one list (the config's schema reads it). */
export const klCtrlTypes = ['fixed', 'adaptive'] as const;
export type KlCtrlType = (typeof klCtrlTypes)[number];

/** What a checkpoint keeps of a controller (its `klCoef` is trainer_state.json's key). */
export interface KlControllerState {
  klCoef: number;
}

export interface KlController {
  /** current β */
  readonly value: number;
  /** called once per step with the batch's mean KL and the number of sequences */
  update(currentKl: number, nSteps: number): void;
  stateDict(): KlControllerState;
  /** Restores β from a checkpoint, so a resumed run continues with the β the run had reached. */
  loadStateDict(state: KlControllerState): void;
}

abstract class KlControllerBase implements KlController {
  protected beta: number;
  constructor(initKlCoef: number) {
    this.beta = initKlCoef;
  }
  get value(): number {
    return this.beta;
  }
  abstract update(currentKl: number, nSteps: number): void;
  stateDict(): KlControllerState {
    return { klCoef: this.beta };
  }
  loadStateDict(state: KlControllerState): void {
    if (typeof state.klCoef !== 'number' || !Number.isFinite(state.klCoef)) {
      throw new RangeError(`KL controller state: klCoef must be a finite number, got ${JSON.stringify(state.klCoef)}`);
    }
    this.beta = state.klCoef;
  }
}

/** β never changes (except when a checkpoint restores it). */
export class FixedKLController extends KlControllerBase {
  update(_currentKl: number, _nSteps: number): void {}
}

/** β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·nSteps/horizon). */
export class AdaptiveKLController extends KlControllerBase {
  constructor(
    initKlCoef: number,
    readonly targetKl: number,
    readonly horizon: number,
  ) {
    super(initKlCoef);
    if (!(horizon > 0)) throw new RangeError(`kl_ctrl.horizon must be > 0, got ${horizon}`);
    if (!(targetKl > 0)) throw new RangeError(`kl_ctrl.target_kl must be > 0, got ${targetKl}`);
  }
  update(currentKl: number, nSteps: number): void {
    const error = Math.min(0.2, Math.max(-0.2, currentKl / this.targetKl - 1));
    this.beta *= 1 + (error * nSteps) / this.horizon;
  }
}

/**
 * `algorithm.kl_ctrl` -> controller. docs/verl-compat.md#adaptive-kl-keys: `horizon` and `target_kl` belong to the schema
 * here; adaptive requires both (the assertion names the right keys, unlike TinyZero's).
 */
export function getKlController(klCtrl: {
  type: KlCtrlType;
  klCoef: number;
  horizon?: number;
  targetKl?: number;
}): KlController {
  if (klCtrl.type === 'fixed') return new FixedKLController(klCtrl.klCoef);
  if (klCtrl.type === 'adaptive') {
    if (klCtrl.horizon === undefined || klCtrl.targetKl === undefined) {
      throw new RangeError('adaptive kl_ctrl needs algorithm.kl_ctrl.horizon and algorithm.kl_ctrl.target_kl');
    }
    return new AdaptiveKLController(klCtrl.klCoef, klCtrl.targetKl, klCtrl.horizon);
  }
  throw new RangeError(`unknown kl_ctrl.type '${(klCtrl as { type: string }).type}'`);
}
