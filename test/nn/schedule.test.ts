// LR schedules at specific steps against their formulas (TinyZero's LR-0 first step fixed: docs/verl-compat.md#lr-first-step).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LrScheduler, constantWithWarmup, cosineWithWarmup, lrFactorAt, warmupStepsFromRatio } from '../../src/nn/index.js';

function near(a: number, b: number, msg = ''): void {
  assert.ok(Math.abs(a - b) < 1e-12, `${msg} ${a} vs ${b}`);
}

describe('constant schedule with warmup', () => {
  test('no warmup: full LR from the first step (veRL would run step 1 at LR 0)', () => {
    for (const step of [0, 1, 7, 1000]) assert.equal(constantWithWarmup(step, 0), 1);
  });

  test('warmup ramps min(1, (step + 1) / warmup)', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 10].map((s) => constantWithWarmup(s, 4)), [0.25, 0.5, 0.75, 1, 1, 1, 1]);
  });

  test('warmup steps from the ratio truncate like int()', () => {
    assert.equal(warmupStepsFromRatio(0, 100), 0);
    assert.equal(warmupStepsFromRatio(0.1, 25), 2);
    assert.equal(warmupStepsFromRatio(0.05, 200), 10);
    assert.throws(() => warmupStepsFromRatio(1.5, 10), /warmup ratio/);
  });
});

describe('cosine schedule with warmup', () => {
  const cos = (s: number): number => cosineWithWarmup(s, 10, 110, 0.1);

  test('warmup ramp, then full LR where the cosine starts', () => {
    near(cos(0), 0.1);
    near(cos(4), 0.5);
    near(cos(9), 1);
    near(cos(10), 1);
  });

  test('follows min + (1 - min) * (1 + cos(pi * progress)) / 2', () => {
    for (const s of [11, 35, 60, 85, 109]) {
      const progress = (s - 10) / 100;
      near(cos(s), 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)), `step ${s}`);
    }
    near(cos(60), 0.55, 'halfway is the midpoint of 1 and min_lr_ratio');
  });

  test('ends at min_lr_ratio at totalSteps and stays there', () => {
    near(cos(110), 0.1);
    near(cos(500), 0.1);
    near(cosineWithWarmup(50, 0, 50, 0), 0);
    assert.ok(cos(109) > 0.1, 'the last training step still has LR above the floor');
  });

  test('is monotone non-increasing after warmup', () => {
    for (let s = 10; s < 120; s++) assert.ok(cos(s + 1) <= cos(s) + 1e-15, `step ${s}`);
  });

  test('rejects a min_lr_ratio outside [0, 1] and negative steps', () => {
    assert.throws(() => cosineWithWarmup(0, 0, 10, 1.5), /min_lr_ratio/);
    assert.throws(() => constantWithWarmup(-1, 0), /step must be an integer/);
  });
});

describe('LrScheduler', () => {
  test('sets the optimizer LR at construction and after every step', () => {
    const opt = { lr: 123 };
    const sched = new LrScheduler(opt, 1e-3, { kind: 'constant', warmupSteps: 2 });
    near(opt.lr, 0.5e-3, 'step 0');
    sched.step();
    near(opt.lr, 1e-3, 'step 1');
    sched.step();
    near(opt.lr, 1e-3, 'step 2');
    assert.equal(sched.stepCount, 2);
  });

  test('state round trip resumes the same LR sequence', () => {
    const schedule = { kind: 'cosine', warmupSteps: 3, totalSteps: 20, minLrRatio: 0.2 } as const;
    const a = { lr: 0 };
    const sa = new LrScheduler(a, 2e-5, schedule);
    for (let i = 0; i < 7; i++) sa.step();
    const saved = sa.stateDict();
    const rest: number[] = [];
    for (let i = 0; i < 5; i++) { sa.step(); rest.push(a.lr); }

    const b = { lr: 0 };
    const sb = new LrScheduler(b, 1, schedule);
    sb.loadStateDict(saved);
    near(b.lr, 2e-5 * lrFactorAt(schedule, 7), 'restored LR');
    const resumed: number[] = [];
    for (let i = 0; i < 5; i++) { sb.step(); resumed.push(b.lr); }
    assert.deepEqual(resumed, rest);
  });
});
