/**
 * The synthetic pretraining corpus of the bundled Countdown base model. Deterministic by seed.
 *
 * Two kinds of rows:
 *  - arithmetic text (loss on every token): lines `a+b=c` over the values a try can write (at most
 *    100), so the model learns what an operation gives;
 *  - Countdown pairs: TinyZero's exact `base` prompt (3 numbers in [1, 20], a reachable target in
 *    [1, 100]), and a response that "tries" random combinations of the numbers step by step, checks
 *    each one by writing its distance to the target (`yes` at distance 0), and then answers with the
 *    LAST one it tried:
 *      `<think> 12+7=19, 19*3=57, 57-50=7 no. 12*3=36, 36+7=43, 50-43=7 no. </think>\n<answer>(12*3)+7</answer>`
 *    The number of tries, and so the point where the response stops, ignores the checks: it stops
 *    right after a `no` as often as after a `yes`, and tries on after a `yes` as often as after a
 *    `no`. So the model learns the format, the arithmetic and a reliable check, but solves a problem
 *    only when its last try happens to hit (about one try in 10). Stopping at the first `yes` and
 *    trying on until then is what RL has to discover.
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

/** A random operation on (x, y) with a non-negative integer result of at most MAX_STEP_VALUE; x, y may swap for - and /. */
export function randomStep(rng: Prng, x: number, y: number): Step {
  const [hi, lo] = x >= y ? [x, y] : [y, x];
  const ops: Step['op'][] = ['-'];
  if (x + y <= MAX_STEP_VALUE) ops.push('+');
  if (x * y <= MAX_STEP_VALUE) ops.push('*');
  if (lo > 0 && hi % lo === 0) ops.push('/');
  const op = ops[rng.int(0, ops.length - 1)]!;
  switch (op) {
    case '+': return { x, op, y, v: x + y };
    case '*': return { x, op, y, v: x * y };
    case '-': return { x: hi, op, y: lo, v: hi - lo };
    case '/': return { x: hi, op, y: lo, v: hi / lo };
  }
}

const stepText = (s: Step): string => `${s.x}${s.op}${s.y}=${s.v}`;

export interface CountdownTry {
  /** `12+7=19, 19*3=57, 57-50=7 no`: two steps, then the distance to the target (larger minus smaller), yes at 0 */
  text: string;
  /** `(12+7)*3`, evaluates to `value` */
  expression: string;
  value: number;
}

/** Combine two of the numbers, then the result with the third (numbers in random order), then check. */
export function randomTry(rng: Prng, nums: readonly number[], target: number): CountdownTry {
  if (nums.length !== 3) throw new Error(`randomTry: expected 3 numbers, got ${nums.length}`);
  const [a, b, c] = rng.shuffle([...nums]);
  const first = randomStep(rng, a!, b!);
  const second = randomStep(rng, first.v, c!);
  const inner = `(${first.x}${first.op}${first.y})`;
  // randomStep may have put the first result on either side of the second step (for - and /).
  const expression = second.x === first.v ? `${inner}${second.op}${second.y}` : `${second.x}${second.op}${inner}`;
  // The check is one more subtraction (comparing the value with the target directly did not learn:
  // the verdict followed the first number, docs/countdown-demo.md).
  const distance: Step = second.v >= target ? { x: second.v, op: '-', y: target, v: second.v - target } : { x: target, op: '-', y: second.v, v: target - second.v };
  const check = distance.v === 0 ? 'yes' : 'no';
  return { text: `${stepText(first)}, ${stepText(second)}, ${stepText(distance)} ${check}`, expression, value: second.v };
}

export interface CorpusOptions {
  /** Share of rows that are arithmetic text (default 0.1). */
  arithmeticShare?: number;
  /** Most tries per response (default 8). */
  maxTries?: number;
  /**
   * Chance to stop after try 1, 2, ... (the last entry repeats), whatever the check said. Default
   * [0.2, 0.6, 0.35]: most responses stop after 2 tries (so a greedy decoder does), a long tail
   * goes on to maxTries.
   */
  stopChances?: readonly number[];
}

export const DEFAULT_STOP_CHANCES: readonly number[] = [0.2, 0.6, 0.35];
export const DEFAULT_MAX_TRIES = 8;

export type CorpusRow = { text: string } | { prompt: string; response: string };

/** How many tries a response makes: drawn before any try is checked, so it cannot depend on a check. */
export function tryCount(rng: Prng, maxTries = DEFAULT_MAX_TRIES, stopChances: readonly number[] = DEFAULT_STOP_CHANCES): number {
  if (!(maxTries >= 1) || stopChances.length === 0) throw new Error(`tryCount: expected maxTries >= 1 and stop chances, got ${maxTries}, [${stopChances.join(', ')}]`);
  let k = 1;
  while (k < maxTries && rng.uniform() >= stopChances[Math.min(k, stopChances.length) - 1]!) k++;
  return k;
}

/** The response to `problem` (text after the prompt's `<think>`, without EOS). */
export function corpusResponse(
  rng: Prng, problem: CountdownProblem, maxTries = DEFAULT_MAX_TRIES, stopChances: readonly number[] = DEFAULT_STOP_CHANCES,
): { response: string; answerValue: number; tries: CountdownTry[] } {
  // Tries reach different values (as someone trying things out would not repeat one), so a model
  // that keeps trying enumerates: this matters under greedy decoding, where independent tries repeat.
  const count = tryCount(rng, maxTries, stopChances);
  const tries: CountdownTry[] = [];
  const seen = new Set<number>();
  for (let attempt = 0; tries.length < count && attempt < 100; attempt++) {
    const t = randomTry(rng, problem.nums, problem.target);
    if (seen.has(t.value)) continue;
    seen.add(t.value);
    tries.push(t);
  }
  const last = tries.at(-1)!;
  return { response: ` ${tries.map((t) => t.text).join('. ')}. </think>\n<answer>${last.expression}</answer>`, answerValue: last.value, tries };
}

function arithmeticText(rng: Prng, lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) out.push(stepText(randomStep(rng, rng.int(1, MAX_STEP_VALUE), rng.uniform() < 0.5 ? rng.int(1, 20) : rng.int(1, MAX_STEP_VALUE))));
  return out.join('\n');
}

/** `size` rows from `seed`, problems as COUNTDOWN_BASE_PROBLEMS. */
export function countdownCorpus(size: number, seed: number, options: CorpusOptions = {}): CorpusRow[] {
  const { arithmeticShare = 0.1, maxTries = DEFAULT_MAX_TRIES, stopChances = DEFAULT_STOP_CHANCES } = options;
  const rng = new Prng(seed);
  const rows: CorpusRow[] = [];
  for (let i = 0; i < size; i++) {
    if (rng.uniform() < arithmeticShare) {
      rows.push({ text: arithmeticText(rng, 8) });
      continue;
    }
    const problem = generateCountdown(rng, COUNTDOWN_BASE_PROBLEMS);
    rows.push({ prompt: countdownPrompt(problem, 'base'), response: corpusResponse(rng, problem, maxTries, stopChances).response });
  }
  return rows;
}

/** The tokenizer of the bundled model: characters of the corpus plus TinyZero's template phrases as whole tokens. */
export function countdownTokenizerSpec(): { eosToken: string; chars: string[]; phrases: string[] } {
  const prompt = countdownPrompt({ nums: [1, 2, 3], target: 4 }, 'base');
  const [head, rest] = splitOnce(prompt, '[1, 2, 3]');
  const [middle, tail] = splitOnce(rest, '4');
  const chars = [...new Set([...'0123456789+-*/()=.,:;!? []\n<>', ...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'])];
  // 10..100 are whole tokens (as GPT-4/Llama-3 vocabularies hold 1-3 digit numbers): the given
  // numbers are then one token each to copy, which a tiny model learns in far fewer steps.
  const numbers = Array.from({ length: 91 }, (_, i) => String(10 + i));
  // The separators and verdicts of a try are whole tokens too, so more tries fit in a response.
  const tryPieces = [', ', ' yes.', ' no.'];
  return { eosToken: '<|endoftext|>', chars, phrases: [head, middle, tail, '<think>', '</think>', '<answer>', '</answer>', ...numbers, ...tryPieces] };
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  if (i < 0) throw new Error(`countdownTokenizerSpec: ${JSON.stringify(sep)} not in the template`);
  return [s.slice(0, i), s.slice(i + sep.length)];
}
