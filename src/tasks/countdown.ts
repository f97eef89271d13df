/**
 * Countdown (TinyZero's headline task): reach a target from 3-4 numbers with + - * /, each number
 * used once. Prompt templates and reward are TinyZero's, character for character, edge cases included
 * (examples/data_preprocess/countdown.py, verl/utils/reward_score/countdown.py); the equation is
 * evaluated by our bounded Python-semantics evaluator instead of `eval`.
 */
import { Prng } from '../util/prng.js';
import { reachableTargets, solveCountdown } from './countdown-solver.js';
import { tryEvaluatePython, type PyNum } from './py-expr/index.js';
import { PY_DIGIT_RUN, canonicalDigits, lastAnswer, pyListRepr, pyStrip } from './py-str.js';

export const COUNTDOWN_DATA_SOURCE = 'countdown';
export const COUNTDOWN_TEMPLATES = ['base', 'qwen-instruct'] as const;
export type CountdownTemplate = (typeof COUNTDOWN_TEMPLATES)[number];

export interface CountdownProblem {
  target: number;
  nums: number[];
}

export interface CountdownGroundTruth {
  target: number | bigint;
  numbers: readonly (number | bigint)[];
}

export function countdownPrompt(problem: CountdownProblem, template: CountdownTemplate): string {
  const numbers = pyListRepr(problem.nums);
  const task = `Using the numbers ${numbers}, create an equation that equals ${problem.target}. You can use basic arithmetic operations (+, -, *, /) and each number can only be used once. Show your work in <think> </think> tags. And return the final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 </answer>.`;
  if (template === 'base') {
    return `A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer.\nUser: ${task}\nAssistant: Let me solve this step by step.\n<think>`;
  }
  return `<|im_start|>system\nYou are a helpful assistant. You first thinks about the reasoning process in the mind and then provides the user with the answer.<|im_end|>\n<|im_start|>user\n ${task}<|im_end|>\n<|im_start|>assistant\nLet me solve this step by step.\n<think>`;
}

export interface CountdownGenOptions {
  minNumbers?: number;
  maxNumbers?: number;
  minNumber?: number;
  maxNumber?: number;
  minTarget?: number;
  maxTarget?: number;
}

/**
 * One solvable problem: 3 or 4 numbers uniform in [1, 100] and a target uniform in [1, 100] among
 * those the numbers can reach (TinyZero used the Countdown-Tasks-3to4 dataset, same ranges).
 */
export function generateCountdown(rng: Prng, options: CountdownGenOptions = {}): CountdownProblem & { solution: string } {
  const { minNumbers = 3, maxNumbers = 4, minNumber = 1, maxNumber = 100, minTarget = 1, maxTarget = 100 } = options;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const count = rng.int(minNumbers, maxNumbers);
    const nums = Array.from({ length: count }, () => rng.int(minNumber, maxNumber));
    const targets = reachableTargets(nums, minTarget, maxTarget);
    if (targets.length === 0) continue;
    const target = targets[rng.int(0, targets.length - 1)]!;
    const solution = solveCountdown(nums, target);
    if (solution === null) throw new Error(`generateCountdown: solver disagrees with the reachable set for ${pyListRepr(nums)} -> ${target}`);
    return { target, nums, solution };
  }
  throw new Error(`generateCountdown: no solvable problem found for options ${JSON.stringify(options)}`);
}

/** The equation in the last `<answer>` of the LAST LINE after the first "Assistant:" (TinyZero's rule, docs/verl-compat.md#countdown-reward). */
export function extractSolution(solutionStr: string): string | null {
  let s: string;
  if (solutionStr.includes('Assistant:')) s = solutionStr.slice(solutionStr.indexOf('Assistant:') + 'Assistant:'.length);
  else if (solutionStr.includes('<|im_start|>assistant')) s = solutionStr.slice(solutionStr.indexOf('<|im_start|>assistant') + '<|im_start|>assistant'.length);
  else return null;
  s = s.slice(s.lastIndexOf('\n') + 1);
  const answer = lastAnswer(s);
  return answer === null ? null : pyStrip(answer);
}

/** Every `\d+` run in the equation, as ints, must be the given numbers as a multiset (so `4.5` reads as 4 and 5). */
export function validateEquation(equation: string, numbers: readonly (number | bigint)[]): boolean {
  const used: string[] = [];
  const digitRuns = new RegExp(PY_DIGIT_RUN.source, PY_DIGIT_RUN.flags);
  for (let m = digitRuns.exec(equation); m !== null; m = digitRuns.exec(equation)) {
    if (used.length === numbers.length) return false; // more numbers than given: stop before reading them all
    used.push(canonicalDigits(m[0]));
  }
  const given = numbers.map((n) => (typeof n === 'bigint' || Number.isInteger(n) ? BigInt(n).toString() : `not-an-int:${n}`)).sort();
  used.sort();
  return used.length === given.length && used.every((u, i) => u === given[i]);
}

// TinyZero's gate before eval: `re.match(r'^[\d+\-*/().\s]+$', eq)` (`$` also matches before a final \n).
const ALLOWED = /^[\p{Nd}+\-*/().\s\x1c-\x1f\x85]+\n?$/u;

/** The equation's value, or null where TinyZero's `evaluate_equation` returns None. */
export function evaluateEquation(equation: string): PyNum | null {
  if (!ALLOWED.test(equation)) return null;
  const r = tryEvaluatePython(equation);
  return r.ok ? r.value : null;
}

/** `abs(result - target) < 1e-5` with Python's mixed int/float/complex arithmetic; null if Python would raise. */
function closeToTarget(result: PyNum, target: number | bigint): boolean | null {
  if (result.k === 'int' && (typeof target === 'bigint' || Number.isInteger(target))) {
    return BigInt(result.v) === BigInt(target);
  }
  const t = Number(target);
  if (!Number.isFinite(t)) return null; // OverflowError converting the int target
  if (result.k === 'int') {
    const r = Number(result.v);
    if (!Number.isFinite(r)) return null;
    return Math.abs(r - t) < 1e-5;
  }
  if (result.k === 'float') return Math.abs(result.v - t) < 1e-5;
  return Math.hypot(result.re - t, result.im) < 1e-5;
}

export function computeScore(solutionStr: string, groundTruth: CountdownGroundTruth, formatScore = 0.1, score = 1.0): number {
  const { target, numbers } = parseGroundTruth(groundTruth);
  const equation = extractSolution(solutionStr);
  if (equation === null) return 0;
  if (!validateEquation(equation, numbers)) return formatScore;
  const result = evaluateEquation(equation);
  if (result === null) return formatScore;
  return closeToTarget(result, target) ? score : formatScore;
}

function parseGroundTruth(gt: unknown): CountdownGroundTruth {
  const isInt = (v: unknown): v is number | bigint => typeof v === 'bigint' || (typeof v === 'number' && Number.isFinite(v));
  if (typeof gt !== 'object' || gt === null) throw new Error(`countdown: ground_truth must be {target, numbers}, got ${JSON.stringify(gt)}`);
  const { target, numbers } = gt as { target?: unknown; numbers?: unknown };
  if (!isInt(target)) throw new Error(`countdown: ground_truth.target must be a number, got ${String(target)}`);
  if (!Array.isArray(numbers) || !numbers.every(isInt)) {
    throw new Error(`countdown: ground_truth.numbers must be a list of numbers, got ${JSON.stringify(numbers, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  }
  return { target, numbers };
}
