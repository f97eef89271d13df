/**
 * Builds veRL rows (data_source, prompt, ability, reward_model, extra_info, plus the source columns
 * that HF datasets.map keeps) for each generated task, with TinyZero's split sizes as defaults.
 */
import { Prng } from '../util/prng.js';
import { countdown, multiply, arith, digitCompletion } from '../tasks/index.js';
import type { Row } from './parquet.js';

export const DATASET_TASKS = ['countdown', 'multiply', 'arith', 'digit-completion'] as const;
export type DatasetTask = (typeof DATASET_TASKS)[number];

export interface DatasetOptions {
  trainSize?: number;
  testSize?: number;
  seed?: number;
  template?: countdown.CountdownTemplate;
  /** Countdown only: how many numbers per problem (default 3 to 4, as TinyZero's dataset). */
  countdownNumbers?: [number, number];
  /** Countdown only: the numbers are drawn from [1, countdownMaxNumber] (default 100, as TinyZero's). */
  countdownMaxNumber?: number;
  /**
   * Called after each generated row with the rows done and the rows to make (train + test), so a
   * caller can show progress: TinyZero's 328,704 Countdown rows take minutes (each problem is drawn
   * until the solver finds a solution).
   */
  onProgress?: (done: number, total: number) => void;
}

/** TinyZero's defaults: countdown 327680/1024, multiply and arth 32768/4096, digit completion 800/200. */
export const DEFAULT_SIZES: Record<DatasetTask, [number, number]> = {
  countdown: [327_680, 1024],
  multiply: [32_768, 4096],
  arith: [32_768, 4096],
  'digit-completion': [800, 200],
};

function verlRow(dataSource: string, content: string, groundTruth: unknown, split: string, index: number): Row {
  return {
    data_source: dataSource,
    prompt: [{ content, role: 'user' }],
    ability: 'math',
    reward_model: { ground_truth: groundTruth, style: 'rule' },
    extra_info: { index, split },
  };
}

export function buildDataset(task: DatasetTask, options: DatasetOptions = {}): { train: Row[]; test: Row[] } {
  const [defaultTrain, defaultTest] = DEFAULT_SIZES[task];
  const trainSize = options.trainSize ?? defaultTrain;
  const testSize = options.testSize ?? defaultTest;
  if (!Number.isInteger(trainSize) || trainSize < 0 || !Number.isInteger(testSize) || testSize < 0) {
    throw new Error(`${task}: train and test sizes must be non-negative integers, got ${trainSize} and ${testSize}`);
  }
  const rng = new Prng(options.seed ?? 0);
  switch (task) {
    case 'countdown': {
      const template = options.template ?? 'base';
      const total = trainSize + testSize;
      let done = 0;
      const make = (split: string) => (_: unknown, i: number): Row => {
        const [minNumbers, maxNumbers] = options.countdownNumbers ?? [3, 4];
        const p = countdown.generateCountdown(rng, { minNumbers, maxNumbers, maxNumber: options.countdownMaxNumber ?? 100 });
        options.onProgress?.(++done, total);
        return {
          target: p.target,
          nums: p.nums,
          ...verlRow(countdown.COUNTDOWN_DATA_SOURCE, countdown.countdownPrompt(p, template), { numbers: p.nums, target: p.target }, split, i),
        };
      };
      return { train: Array.from({ length: trainSize }, make('train')), test: Array.from({ length: testSize }, make('test')) };
    }
    case 'multiply':
    case 'arith': {
      // TinyZero draws 100000 pairs, dedupes, and takes the first train and the LAST test rows.
      const draws = Math.max(100_000, 3 * (trainSize + testSize));
      const problems = task === 'multiply' ? multiply.generateMultiply(rng, draws) : arith.generateArith(rng, draws);
      if (problems.length <= trainSize + testSize) {
        throw new Error(`${task}: only ${problems.length} distinct problems, fewer than train ${trainSize} + test ${testSize}`);
      }
      const toRow = (split: string) => (p: multiply.MultiplyProblem | arith.ArithProblem, i: number): Row => {
        const prompt = 'operation' in p ? arith.arithPrompt(p) : multiply.multiplyPrompt(p);
        const source = task === 'multiply' ? multiply.MULTIPLY_DATA_SOURCE : arith.ARITH_DATA_SOURCE;
        return { ...p, ...verlRow(source, prompt, p.result, split, i) };
      };
      return {
        train: problems.slice(0, trainSize).map(toRow('train')),
        test: problems.slice(problems.length - testSize).map(toRow('test')),
      };
    }
    case 'digit-completion': {
      // veRL's e2e files hold only the prompt column (no data_source or reward_model).
      const { train, test } = digitCompletion.splitDigitCompletion(rng, trainSize, testSize);
      const toRow = (content: string): Row => ({ prompt: [{ content, role: 'user' }] });
      return { train: train.map(toRow), test: test.map(toRow) };
    }
  }
}
