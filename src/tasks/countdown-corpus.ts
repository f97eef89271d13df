/**
 * The synthetic pretraining corpus of the bundled Countdown base model. Deterministic by seed.
 *
 * Two kinds of rows:
 *  - arithmetic text (loss on every token): lines `a+b=c` over the values a try can write (at most
 *    100), so the model learns what an operation gives;
 *  - Countdown pairs: TinyZero's exact `base` prompt (3 numbers in [1, 20], a reachable target in
 *    [1, 100]), and a response that tries combinations of the numbers step by step, checks each one by
 *    writing its distance to the target (`yes` at distance 0), and then answers with the LAST one it
 *    tried:
 *      `<think> 12+7=19, 19+3=22, 50-22=28 no. 12+7=19, 19*3=57, 57-50=7 no. </think>\n<answer>(12+7)*3</answer>`
 *    The tries follow one fixed order (`tryCycle`: the first two numbers first, operations in the
 *    order + * - /), from its start or, in half of the responses, from a random point of it, so every
 *    "next try" is learnt, not only the first few. After every try the response stops with a chance
 *    that depends only on how many tries it has made, whatever the check said (`stopChances`: 0.6 for
 *    phases 1-2 of the bundled model; [0.6 after the first try, 0.3 after later ones] for phase 3, so a
 *    greedy decoder stops after one try and a sampled one that goes on makes several): the model learns
 *    the format, the arithmetic, a reliable check and an order that enumerates, but solves a problem only
 *    when its last try happens to hit (the first try hits one problem in 10). Stopping at the first
 *    `yes`, and trying on until then, is what RL has to discover (docs/countdown-demo.md).
 */
import { Prng } from '../util/prng.js';
import { countdownPrompt, generateCountdown, type CountdownGenOptions, type CountdownProblem } from './countdown.js';

/**
 * The problems of the bundled model and its data (assets/data/countdown-3): 3 numbers in [1, 20], so
 * that nearly every reachable target (in [1, 100]) is reachable through values of at most 100.
 */
export const COUNTDOWN_BASE_PROBLEMS = { minNumbers: 3, maxNumbers: 3, minNumber: 1, maxNumber: 20 } as const satisfies CountdownGenOptions;

/** The largest value a step writes: 10..100 are single tokens, and a small model computes them reliably. */
export const MAX_STEP_VALUE = 100;

/** One step `x op y = v` over non-negative integers. */
export interface Step {
  x: number;
  op: '+' | '-' | '*' | '/';
  y: number;
  v: number;
}

export interface CountdownTry {
  /** `12+7=19, 19*3=57, 57-50=7 no`: two steps, then the distance to the target (larger minus smaller), yes at 0 */
  text: string;
  /** `(12+7)*3`, evaluates to `value` */
  expression: string;
  value: number;
}

/** The operations a try writes, in the order it tries them. */
const OP_ORDER: readonly Step['op'][] = ['+', '*', '-', '/'];

/**
 * The steps on (x, y) in OP_ORDER with a non-negative integer result of at most MAX_STEP_VALUE; - and /
 * put the larger first. No division by 1 (it repeats the product by 1).
 */
export function stepsOn(x: number, y: number): Step[] {
  const [hi, lo] = x >= y ? [x, y] : [y, x];
  const out: Step[] = [];
  for (const op of OP_ORDER) {
    if (op === '+' && x + y <= MAX_STEP_VALUE) out.push({ x, op, y, v: x + y });
    if (op === '*' && x * y <= MAX_STEP_VALUE) out.push({ x, op, y, v: x * y });
    if (op === '-') out.push({ x: hi, op, y: lo, v: hi - lo });
    if (op === '/' && lo > 1 && hi % lo === 0) out.push({ x: hi, op, y: lo, v: hi / lo });
  }
  return out;
}

/** A random step on (x, y) (arithmetic text rows). */
export function randomStep(rng: Prng, x: number, y: number): Step {
  const steps = stepsOn(x, y);
  return steps[rng.int(0, steps.length - 1)]!;
}

const stepText = (s: Step): string => `${s.x}${s.op}${s.y}=${s.v}`;

/** The try `first` then `second` (which uses first's result), checked by its distance to the target. */
function checkedTry(first: Step, second: Step, target: number): CountdownTry {
  const inner = `(${first.x}${first.op}${first.y})`;
  // - and / may have put the first result on either side of the second step.
  const expression = second.x === first.v ? `${inner}${second.op}${second.y}` : `${second.x}${second.op}${inner}`;
  // The check is one more subtraction (comparing the value with the target directly did not learn:
  // the verdict followed the first number, docs/countdown-demo.md).
  const distance: Step = second.v >= target ? { x: second.v, op: '-', y: target, v: second.v - target } : { x: target, op: '-', y: second.v, v: target - second.v };
  return { text: `${stepText(first)}, ${stepText(second)}, ${stepText(distance)} ${distance.v === 0 ? 'yes' : 'no'}`, expression, value: second.v };
}

/**
 * Every try on the 3 numbers in the corpus's fixed order: the pairs (a, b), (a, c), (b, c) in the
 * prompt's order, each pair's steps in OP_ORDER, each result's steps with the third number in OP_ORDER.
 * The pairs after the first leave out (x+y)+z and (x*y)*z, which repeat the first pair's value. A
 * fixed order is easier for a small model to continue than a random one, and greedy tries then differ.
 */
export function tryCycle(nums: readonly number[], target: number): CountdownTry[] {
  if (nums.length !== 3) throw new Error(`tryCycle: expected 3 numbers, got ${nums.length}`);
  const [a, b, c] = nums as [number, number, number];
  const tries: CountdownTry[] = [];
  ([[a, b, c], [a, c, b], [b, c, a]] as const).forEach(([x, y, z], pair) => {
    for (const first of stepsOn(x, y)) {
      for (const second of stepsOn(first.v, z)) {
        if (pair > 0 && first.op === second.op && (first.op === '+' || first.op === '*')) continue;
        tries.push(checkedTry(first, second, target));
      }
    }
  });
  return tries;
}

export interface CorpusOptions {
  /** Share of rows that are arithmetic text (default 0.3). */
  arithmeticShare?: number;
  /** Most tries per response (default 8). */
  maxTries?: number;
  /**
   * Chance to stop after try 1, 2, ..., whatever its check said; the last one holds for every later
   * try (default [0.6]).
   */
  stopChances?: readonly number[];
}

/** Above 0.5, so that a greedy decoder of the corpus stops after its first try. */
export const DEFAULT_STOP_CHANCES: readonly number[] = [0.6];
export const DEFAULT_MAX_TRIES = 8;
/** Share of responses whose tries start at the start of the order (the rest start anywhere in it). */
export const ORDER_START_SHARE = 0.5;

export type CorpusRow = { text: string } | { prompt: string; response: string };

/** How many tries a response makes: drawn before any try is checked, so it cannot depend on a check. */
export function tryCount(rng: Prng, maxTries = DEFAULT_MAX_TRIES, stopChances: readonly number[] = DEFAULT_STOP_CHANCES): number {
  if (!(maxTries >= 1) || stopChances.length === 0 || !stopChances.every((c) => c > 0 && c <= 1)) {
    throw new Error(`tryCount: expected maxTries >= 1 and stop chances in (0, 1], got ${maxTries}, [${stopChances.join(', ')}]`);
  }
  let k = 1;
  while (k < maxTries && rng.uniform() >= stopChances[Math.min(k, stopChances.length) - 1]!) k++;
  return k;
}

/** The response to `problem` (text after the prompt's `<think>`, without EOS). */
export function corpusResponse(
  rng: Prng, problem: CountdownProblem, maxTries = DEFAULT_MAX_TRIES, stopChances: readonly number[] = DEFAULT_STOP_CHANCES,
): { response: string; answerValue: number; tries: CountdownTry[] } {
  const cycle = tryCycle(problem.nums, problem.target);
  const start = rng.uniform() < ORDER_START_SHARE ? 0 : rng.int(0, cycle.length - 1);
  const count = Math.min(tryCount(rng, maxTries, stopChances), cycle.length);
  const tries = Array.from({ length: count }, (_, i) => cycle[(start + i) % cycle.length]!);
  const last = tries.at(-1)!;
  return { response: ` ${tries.map((t) => t.text).join('. ')}. </think>\n<answer>${last.expression}</answer>`, answerValue: last.value, tries };
}

/**
 * Lines of the two kinds of step a try gets wrong most (docs/countdown-demo.md): a result of up to 100
 * with one of the given numbers (up to 20), and the distance check, larger minus smaller of two values
 * up to 100.
 */
function arithmeticText(rng: Prng, lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const step = rng.uniform() < 0.5
      ? randomStep(rng, rng.int(1, MAX_STEP_VALUE), rng.int(1, COUNTDOWN_BASE_PROBLEMS.maxNumber))
      : stepsOn(rng.int(0, MAX_STEP_VALUE), rng.int(0, MAX_STEP_VALUE)).find((st) => st.op === '-')!;
    out.push(stepText(step));
  }
  return out.join('\n');
}

/** `size` rows from `seed`, problems as COUNTDOWN_BASE_PROBLEMS. */
export function countdownCorpus(size: number, seed: number, options: CorpusOptions = {}): CorpusRow[] {
  const { arithmeticShare = 0.3, maxTries = DEFAULT_MAX_TRIES, stopChances = DEFAULT_STOP_CHANCES } = options;
  const rng = new Prng(seed);
  const rows: CorpusRow[] = [];
  for (let i = 0; i < size; i++) {
    if (rng.uniform() < arithmeticShare) {
      rows.push({ text: arithmeticText(rng, 12) });
      continue;
    }
    const problem = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    rows.push({ prompt: countdownPrompt(problem, 'base'), response: corpusResponse(rng, problem, maxTries, stopChances).response });
  }
  return rows;
}

/**
 * The verdict and the end of the thinking as one token each, so that stopping after a `yes` and stopping
 * after a `no` are separate outputs, chosen where the verdict is written (the corpus text is the same).
 * Written as ` yes.` then ` </think>`, RL's credit for stopping after a passed check spreads to stopping
 * after a failed one (docs/countdown-demo.md).
 */
export const STOP_IN_VERDICT_PIECES: readonly string[] = [' yes. </think>', ' no. </think>'];

/**
 * The tokenizer of the bundled model: characters of the corpus plus TinyZero's template phrases as whole
 * tokens; `stopInVerdict` (default true) appends STOP_IN_VERDICT_PIECES as the last two ids.
 */
export function countdownTokenizerSpec(options: { stopInVerdict?: boolean } = {}): { eosToken: string; chars: string[]; phrases: string[] } {
  const { stopInVerdict = true } = options;
  const prompt = countdownPrompt({ nums: [1, 2, 3], target: 4 }, 'base');
  const [head, rest] = splitOnce(prompt, '[1, 2, 3]');
  const [middle, tail] = splitOnce(rest, '4');
  const chars = [...new Set([...'0123456789+-*/()=.,:;!? []\n<>', ...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'])];
  // 10..100 are whole tokens (as GPT-4/Llama-3 vocabularies hold 1-3 digit numbers): the given
  // numbers are then one token each to copy, which a tiny model learns in far fewer steps.
  const numbers = Array.from({ length: 91 }, (_, i) => String(10 + i));
  // The separators and verdicts of a try are whole tokens too, so more tries fit in a response.
  const tryPieces = [', ', ' yes.', ' no.', ...(stopInVerdict ? STOP_IN_VERDICT_PIECES : [])];
  return { eosToken: '<|endoftext|>', chars, phrases: [head, middle, tail, '<think>', '</think>', '<answer>', '</answer>', ...numbers, ...tryPieces] };
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  if (i < 0) throw new Error(`countdownTokenizerSpec: ${JSON.stringify(sep)} not in the template`);
  return [s.slice(0, i), s.slice(i + sep.length)];
}
