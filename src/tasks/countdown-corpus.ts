/**
 * The synthetic pretraining corpus of the bundled Countdown base model. Deterministic by seed.
 *
 * Two kinds of rows:
 *  - arithmetic text (loss on every token): lines `a+b=c`, the same small integer arithmetic the
 *    Countdown work uses, so the model learns numbers and what an operation gives;
 *  - Countdown pairs: TinyZero's exact `base` prompt, and a response that "tries" a few random
 *    combinations of the given numbers step by step, checks each against the target (`yes`/`no`),
 *    and then answers with the LAST one it tried (tries reach different values), `<think> 44+19=63, 63-35=28 no. ... </think>
 *    <answer>(44+19)-35</answer>`. How many tries it makes ignores the checks, so the model learns
 *    the format, the arithmetic and the check, but solves a problem only by chance (about one try
 *    in 10 hits): a "base model" that RL has room to improve, by trying on until a check says yes
 *    and answering then, or by choosing operations that move toward the target.
 */
import { Prng } from '../util/prng.js';
import { countdownPrompt, generateCountdown, type CountdownProblem } from './countdown.js';

/** One step `x op y = v` over non-negative integers. */
interface Step {
  x: number;
  op: '+' | '-' | '*' | '/';
  y: number;
  v: number;
}

/** A random operation on (x, y) with a non-negative integer result; x, y may swap for - and /. */
export function randomStep(rng: Prng, x: number, y: number): Step {
  // Products stay at most 10000 so the digits stay few (targets are at most 100 anyway).
  const ops: Step['op'][] = x * y <= 10_000 ? ['+', '-', '*'] : ['+', '-'];
  const [hi, lo] = x >= y ? [x, y] : [y, x];
  if (lo > 0 && hi % lo === 0) ops.push('/');
  const op = ops[rng.int(0, ops.length - 1)]!;
  switch (op) {
    case '+': return { x, op, y, v: x + y };
    case '*': return { x, op, y, v: x * y };
    case '-': return { x: hi, op, y: lo, v: hi - lo };
    case '/': return { x: hi, op, y: lo, v: hi / lo };
  }
}

export interface CountdownTry {
  /** `44+19=63, 63-35=28 no` (the check against the target: yes or no) */
  text: string;
  /** `(44+19)-35`, evaluates to `value` */
  expression: string;
  value: number;
}

/** Combine two of the numbers, then the result with the third (numbers in random order). */
export function randomTry(rng: Prng, nums: readonly number[], target: number): CountdownTry {
  if (nums.length !== 3) throw new Error(`randomTry: expected 3 numbers, got ${nums.length}`);
  const [a, b, c] = rng.shuffle([...nums]);
  const first = randomStep(rng, a!, b!);
  const second = randomStep(rng, first.v, c!);
  const inner = `(${first.x}${first.op}${first.y})`;
  // randomStep may have put the first result on either side of the second step (for - and /).
  const expression = second.x === first.v ? `${inner}${second.op}${second.y}` : `${second.x}${second.op}${inner}`;
  const check = second.v === target ? 'yes' : 'no';
  return { text: `${first.x}${first.op}${first.y}=${first.v}, ${second.x}${second.op}${second.y}=${second.v} ${check}`, expression, value: second.v };
}

export interface CorpusOptions {
  /** Share of rows that are arithmetic text (default 0.1). */
  arithmeticShare?: number;
  /** Most tries per response (default 5); the count is drawn with decreasing odds from 1. */
  maxTries?: number;
}

export type CorpusRow = { text: string } | { prompt: string; response: string };

/** Tries 1..max with weights max, max-1, ..., 1: short answers are common, long ones possible. */
function tryCount(rng: Prng, max: number): number {
  const total = (max * (max + 1)) / 2;
  let r = rng.int(1, total);
  for (let k = 1; k <= max; k++) {
    r -= max - k + 1;
    if (r <= 0) return k;
  }
  return max;
}

/** The response to `problem` (text after the prompt's `<think>`, without EOS). */
export function corpusResponse(rng: Prng, problem: CountdownProblem, maxTries = 5): { response: string; answerValue: number } {
  // Tries reach different values (as someone trying things out would not repeat one), so a model
  // that keeps trying enumerates: this matters under greedy decoding, where independent tries repeat.
  const count = tryCount(rng, maxTries);
  const tries: CountdownTry[] = [];
  const seen = new Set<number>();
  for (let attempt = 0; tries.length < count && attempt < 100; attempt++) {
    const t = randomTry(rng, problem.nums, problem.target);
    if (seen.has(t.value)) continue;
    seen.add(t.value);
    tries.push(t);
  }
  const last = tries.at(-1)!;
  return { response: ` ${tries.map((t) => t.text).join('. ')}. </think>\n<answer>${last.expression}</answer>`, answerValue: last.value };
}

function arithmeticText(rng: Prng, lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    // Some left operands are as large as a first step's result can be.
    const s = randomStep(rng, rng.uniform() < 0.3 ? rng.int(1, 2000) : rng.int(1, 100), rng.int(1, 100));
    out.push(`${s.x}${s.op}${s.y}=${s.v}`);
  }
  return out.join('\n');
}

/** `size` rows from `seed`. Countdown problems are 3 numbers in [1, 100] with a reachable target in [1, 100], as TinyZero's. */
export function countdownCorpus(size: number, seed: number, options: CorpusOptions = {}): CorpusRow[] {
  const { arithmeticShare = 0.1, maxTries = 5 } = options;
  const rng = new Prng(seed);
  const rows: CorpusRow[] = [];
  for (let i = 0; i < size; i++) {
    if (rng.uniform() < arithmeticShare) {
      rows.push({ text: arithmeticText(rng, 8) });
      continue;
    }
    const problem = generateCountdown(rng, { minNumbers: 3, maxNumbers: 3 });
    rows.push({ prompt: countdownPrompt(problem, 'base'), response: corpusResponse(rng, problem, maxTries).response });
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
  return { eosToken: '<|endoftext|>', chars, phrases: [head, middle, tail, '<think>', '</think>', '<answer>', '</answer>', ...numbers] };
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  if (i < 0) throw new Error(`countdownTokenizerSpec: ${JSON.stringify(sep)} not in the template`);
  return [s.slice(0, i), s.slice(i + sep.length)];
}
