/** KL coefficient controllers for KL-in-reward (docs/verl-compat.md#kl-controller; Ziegler et al. 2019). */

export interface KlController {
  /** current β */
  readonly value: number;
  /** called once per step with the batch's mean KL and the number of sequences */
  update(currentKl: number, nSteps: number): void;
}

/** β never changes. */
export class FixedKLController implements KlController {
  constructor(readonly value: number) {}
  update(_currentKl: number, _nSteps: number): void {}
}

/** β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·nSteps/horizon). */
export class AdaptiveKLController implements KlController {
  value: number;
  constructor(
    initKlCoef: number,
    readonly targetKl: number,
    readonly horizon: number,
  ) {
    if (!(horizon > 0)) throw new RangeError(`kl_ctrl.horizon must be > 0, got ${horizon}`);
    if (!(targetKl > 0)) throw new RangeError(`kl_ctrl.target_kl must be > 0, got ${targetKl}`);
    this.value = initKlCoef;
  }
  update(currentKl: number, nSteps: number): void {
    const error = Math.min(0.2, Math.max(-0.2, currentKl / this.targetKl - 1));
    this.value *= 1 + (error * nSteps) / this.horizon;
  }
}

/**
 * `algorithm.kl_ctrl` -> controller. docs/verl-compat.md#adaptive-kl-keys: `horizon` and `target_kl` belong to the schema
 * here; adaptive requires both (the assertion names the right keys, unlike TinyZero's).
 */
export function getKlController(klCtrl: {
  type: 'fixed' | 'adaptive';
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
