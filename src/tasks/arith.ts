/**
 * `arth` (TinyZero's examples/data_preprocess/arth.py): like multiply, but operands draw r from 1..3
 * (its r == 0 branch is dead), the only operation is `*`, the row keeps an `operation` column, and
 * the prompt differs. Scored by multiply's reward (the data source contains "arithmetic").
 */
import { Prng } from '../util/prng.js';
import { generateDistinct, randomOperand } from './multiply.js';

export const ARITH_DATA_SOURCE = 'yolo/arithmetic-3_digit';

export interface ArithProblem {
  num1: number;
  num2: number;
  result: number;
  operation: '*';
}

export function generateArith(rng: Prng, n: number, digits = 3): ArithProblem[] {
  return generateDistinct(n, () => {
    const num1 = randomOperand(rng, digits, 1);
    const num2 = randomOperand(rng, digits, 1);
    return { num1, num2, result: num1 * num2, operation: '*' as const };
  }, (p) => `${p.num1}${p.operation}${p.num2}`);
}

export function arithPrompt(p: Pick<ArithProblem, 'num1' | 'num2' | 'operation'>): string {
  return `A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> RESULT_NUMBER </answer>. \nUser: Give me the answer of the following equation: ${p.num1} ${p.operation} ${p.num2}.\nAssistant: Let me solve this step by step.\n<think>`;
}
