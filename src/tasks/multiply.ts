/**
 * Multiplication of up-to-3-digit numbers (TinyZero's examples/data_preprocess/multiply.py, as it was
 * meant: its committed `randint(,3)` is a SyntaxError; here r is drawn from 0..3) and the reward
 * shared with `arth` (verl/utils/reward_score/multiply.py).
 */
import { Prng } from '../util/prng.js';
import { lastAnswer, pyIntOfString, pyStrip } from './py-str.js';

export const MULTIPLY_DATA_SOURCE = 'yolo/multiply-3_digit';

export interface MultiplyProblem {
  num1: number;
  num2: number;
  result: number;
}

/**
 * One operand: r == 0 -> up to DIGIT-2 digits, r == 1 -> up to DIGIT-1, else up to DIGIT digits
 * (lower bound 0, TinyZero's LESS_OR_EQUAL=True).
 */
export function randomOperand(rng: Prng, digits: number, rMin: number): number {
  const r = rng.int(rMin, 3);
  const maxNum = r === 0 ? 10 ** (digits - 2) : r === 1 ? 10 ** (digits - 1) : 10 ** digits;
  return rng.int(0, maxNum - 1);
}

/** `n` draws with duplicates removed, first occurrence kept (TinyZero deduplicated with set()). */
export function generateDistinct<T>(n: number, draw: () => T, key: (item: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const item = draw();
    const k = key(item);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(item);
    }
  }
  return out;
}

export function generateMultiply(rng: Prng, n: number, digits = 3): MultiplyProblem[] {
  return generateDistinct(n, () => {
    const num1 = randomOperand(rng, digits, 0);
    const num2 = randomOperand(rng, digits, 0);
    return { num1, num2, result: num1 * num2 };
  }, (p) => `${p.num1}*${p.num2}`);
}

export function multiplyPrompt(p: Pick<MultiplyProblem, 'num1' | 'num2'>): string {
  return `A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> RESULT_NUMBER </answer>. User: Give me the answer of the following equation: ${p.num1} * ${p.num2} = Assistant: Ok let me think about it.\n<think>`;
}

/** Last `<answer>` anywhere after the first "Assistant:" (no last-line rule), if Python's int() accepts it. */
export function extractSolution(solutionStr: string): string | null {
  const at = solutionStr.indexOf('Assistant:');
  if (at < 0) return null;
  const answer = lastAnswer(solutionStr.slice(at + 'Assistant:'.length));
  if (answer === null) return null;
  const stripped = pyStrip(answer);
  return pyIntOfString(stripped) === null ? null : stripped;
}

/** int(ground_truth) as Python computes it, as a canonical decimal string. */
function groundTruthInt(gt: unknown): string {
  if (typeof gt === 'bigint') return gt.toString();
  if (typeof gt === 'number' && Number.isFinite(gt)) return BigInt(Math.trunc(gt)).toString();
  if (typeof gt === 'string') {
    const v = pyIntOfString(gt);
    if (v !== null) return v;
  }
  throw new Error(`multiply: ground_truth must be an int, got ${JSON.stringify(gt, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
}

export function computeScore(solutionStr: string, groundTruth: unknown, formatScore = 0.1, score = 1.0): number {
  const expected = groundTruthInt(groundTruth);
  const answer = extractSolution(solutionStr);
  if (answer === null) return 0;
  return pyIntOfString(answer) === expected ? score : formatScore;
}
