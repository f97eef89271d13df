/**
 * Learning-rate schedules as multipliers of the base LR, following veRL's
 * get_constant_schedule_with_warmup and get_cosine_schedule_with_warmup (num_cycles 0.5,
 * min_lr_ratio), with TinyZero's LR-0 first step fixed (docs/verl-compat.md#lr-first-step): `step` is the 0-based index of the
 * training step about to run, and warmup ramps min(1, (step + 1) / warmup), so the first step never
 * runs at LR 0 and the last warmup step runs at the full LR. Past warmup the cosine follows veRL:
 * progress = (step - warmup) / max(1, total - warmup), reaching min_lr_ratio at step = total.
 */

export type LrSchedule =
  | { kind: 'constant'; warmupSteps: number }
  | { kind: 'cosine'; warmupSteps: number; totalSteps: number; minLrRatio?: number; numCycles?: number };

/** veRL: num_warmup = int(lr_warmup_steps_ratio * total_training_steps). */
export function warmupStepsFromRatio(ratio: number, totalSteps: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`warmup ratio must be in [0, 1], got ${ratio}`);
  return Math.floor(ratio * totalSteps);
}

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new Error(`lr schedule: step must be an integer >= 0, got ${step}`);
}

/** Linear warmup factor for 0-based `step`; 1 once warmup is done (and always when warmupSteps is 0). */
function warmupFactor(step: number, warmupSteps: number): number {
  return Math.min(1, (step + 1) / Math.max(1, warmupSteps));
}

/** Multiplier of the constant schedule with warmup at 0-based `step`. */
export function constantWithWarmup(step: number, warmupSteps: number): number {
  checkStep(step);
  return warmupFactor(step, warmupSteps);
}

/**
 * Multiplier of the cosine schedule with warmup at 0-based `step`:
 * warmup as above, then min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + cos(2*pi*numCycles*progress)).
 * Progress is held at 1 past totalSteps (veRL would let the cosine rise again).
 */
export function cosineWithWarmup(step: number, warmupSteps: number, totalSteps: number, minLrRatio = 0, numCycles = 0.5): number {
  checkStep(step);
  if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new Error(`cosine schedule: min_lr_ratio must be in [0, 1], got ${minLrRatio}`);
  if (step < warmupSteps) return warmupFactor(step, warmupSteps);
  const progress = Math.min(1, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
  const x = Math.cos(Math.PI * numCycles * 2 * progress);
  // veRL's coef/intercept form of min + (1 - min) * (1 + x) / 2.
  return Math.max(0, x * (1 - minLrRatio) * 0.5 + (1 + minLrRatio) * 0.5);
}

/** The LR multiplier of `schedule` at 0-based `step`. */
export function lrFactorAt(schedule: LrSchedule, step: number): number {
  switch (schedule.kind) {
    case 'constant':
      return constantWithWarmup(step, schedule.warmupSteps);
    case 'cosine':
      return cosineWithWarmup(step, schedule.warmupSteps, schedule.totalSteps, schedule.minLrRatio ?? 0, schedule.numCycles ?? 0.5);
  }
}

export interface LrSchedulerState {
  /** Training steps completed (the next one runs at lrAt(step)). */
  step: number;
  baseLr: number;
}

/**
 * Sets `optimizer.lr` from a schedule. Protocol: construct (sets the LR of step 0), then call
 * step() once after each optimizer step (veRL: once per training step, after all mini-batches).
 */
export class LrScheduler {
  #step = 0;

  constructor(readonly optimizer: { lr: number }, public baseLr: number, readonly schedule: LrSchedule) {
    if (!(baseLr >= 0) || !Number.isFinite(baseLr)) throw new Error(`LrScheduler: invalid base lr ${baseLr}`);
    this.#apply();
  }

  /** The LR of 0-based training step `step`. */
  lrAt(step: number): number {
    return this.baseLr * lrFactorAt(this.schedule, step);
  }

  /** Steps completed so far. */
  get stepCount(): number {
    return this.#step;
  }

  /** The LR the next training step runs at. */
  get currentLr(): number {
    return this.lrAt(this.#step);
  }

  step(): void {
    this.#step++;
    this.#apply();
  }

  #apply(): void {
    this.optimizer.lr = this.currentLr;
  }

  stateDict(): LrSchedulerState {
    return { step: this.#step, baseLr: this.baseLr };
  }

  loadStateDict(state: LrSchedulerState): void {
    checkStep(state.step);
    if (!(state.baseLr >= 0) || !Number.isFinite(state.baseLr)) throw new Error(`LrScheduler.loadStateDict: invalid base lr ${state.baseLr}`);
    this.#step = state.step;
    this.baseLr = state.baseLr;
    this.#apply();
  }
}
