/**
 * What a Countdown response does, read from its text: the tries it makes, whether its arithmetic
 * is right, whether its checks are right, and whether its final answer is a try that passed its
 * check. TinyZero's finding is this behaviour (the model learns to check its arithmetic and to try
 * again until a check passes), so these metrics show it beside the reward; they never change the
 * reward. The definitions are in docs/countdown-demo.md ("Behaviour metrics and the before/after story").
 *
 * Grammar (model output is arbitrary text, so everything else is ignored):
 *  - a step is `a op b = c`: integers a, b ≥ 0 and c (may be negative), op one of + - * /, spaces
 *    allowed; it does not continue an expression (`12*5-3=57` holds no step) and c is not the
 *    start of a decimal or of a longer expression;
 *  - steps separated only by spaces, commas or semicolons form a run; a run followed (after spaces,
 *    commas, semicolons or a colon) by the word `yes` or `no` is a try with that verdict, the
 *    sentence ending at the `.` after it;
 *  - a try's value is its last step's result, except when the last step is the distance check
 *    (`target - v = d` or `v - target = d`, v the result of the step before it): then it is v.
 *    Where the target is also one of the problem's numbers the two readings can clash: the last
 *    step is the try's own when the target is a number the try's earlier steps have not used yet
 *    (`63-13=50, 50-25=25 yes` for [63, 13, 25] → 25 reaches 25), the distance check otherwise.
 */
import { evaluateEquation, type CountdownGroundTruth } from './countdown.js';
import type { PyNum } from './py-expr/index.js';
import { lastAnswerSpan, pyStrip } from './py-str.js';

export interface ArithmeticStep {
  a: bigint;
  op: '+' | '-' | '*' | '/';
  b: bigint;
  c: bigint;
  /** c is a op b exactly (a division must be exact: b·c = a, b ≠ 0). */
  right: boolean;
  start: number;
  end: number;
}

export interface CountdownTry {
  steps: ArithmeticStep[];
  verdict: 'yes' | 'no';
  /** The value the try reaches (as written): see the file comment. */
  value: bigint;
  /** Whether the verdict is right about the written value: `yes` exactly when value = target. */
  verdictRight: boolean;
  start: number;
  /** Just past the verdict and its `.` when there is one. */
  end: number;
}

export interface CountdownBehavior {
  /** Every step in the response outside `<answer>` tags, tries or not. */
  steps: ArithmeticStep[];
  tries: CountdownTry[];
  /** The equation the reward reads (the last `<answer>` on the last line), null when there is none. */
  answer: string | null;
  /** The final answer comes right after a try whose verdict is `yes` and evaluates to its value. */
  answerAfterPassedCheck: boolean;
}

// A step's left operand must not continue an expression or a number; its result must not start a
// decimal (`9/2=4.5`) or a longer expression (`=12*3`).
const STEP = /(?=\d)(?<![+\-*/()=]\s*)(?<!\d|\d\.)(\d+)\s*([-+*/])\s*(\d+)\s*=\s*(-?\d+)(?!\d|\.\d|\s*[-+*/(=])/g;
const RUN_SEPARATOR = /^[\s,;]*$/;
const VERDICT = /^[\s,;:]*(yes|no)\b(\s*\.)?/i;

function stepRight(a: bigint, op: ArithmeticStep['op'], b: bigint, c: bigint): boolean {
  switch (op) {
    case '+': return a + b === c;
    case '-': return a - b === c;
    case '*': return a * b === c;
    case '/': return b !== 0n && b * c === a;
  }
}

/**
 * `text` with each `<answer>…</answer>` (to its first close, newlines included) blanked out, the
 * offsets kept: an answer's equation is not a step. Linear in the text, however many tags are open.
 */
function maskAnswers(text: string): string {
  let out = '';
  let pos = 0;
  for (;;) {
    const open = text.indexOf('<answer>', pos);
    const close = open < 0 ? -1 : text.indexOf('</answer>', open + '<answer>'.length);
    if (close < 0) return out + text.slice(pos);
    const end = close + '</answer>'.length;
    out += text.slice(pos, open) + ' '.repeat(end - open);
    pos = end;
  }
}

/** Every arithmetic step of `text` outside `<answer>…</answer>`, in order. */
export function parseSteps(text: string): ArithmeticStep[] {
  const masked = maskAnswers(text);
  const steps: ArithmeticStep[] = [];
  for (const m of masked.matchAll(STEP)) {
    const a = BigInt(m[1]!), op = m[2] as ArithmeticStep['op'], b = BigInt(m[3]!), c = BigInt(m[4]!);
    steps.push({ a, op, b, c, right: stepRight(a, op, b, c), start: m.index, end: m.index + m[0].length });
  }
  return steps;
}

/**
 * Whether `target` is one of `numbers` that `steps` leave unused: each operand takes an earlier
 * step's result when one is left with its value (each result used once), else a number.
 */
function targetUnused(steps: ArithmeticStep[], target: bigint, numbers: readonly bigint[]): boolean {
  const left = [...numbers];
  const results: bigint[] = [];
  const take = (from: bigint[], v: bigint): boolean => {
    const at = from.indexOf(v);
    if (at >= 0) from.splice(at, 1);
    return at >= 0;
  };
  for (const step of steps) {
    for (const operand of [step.a, step.b]) if (!take(results, operand)) take(left, operand);
    results.push(step.c);
  }
  return left.includes(target);
}

/** The value a try reaches: the distance check's subject when its last step is one. */
function tryValue(steps: ArithmeticStep[], target: bigint, numbers: readonly bigint[]): bigint {
  const last = steps.at(-1)!;
  const before = steps.at(-2);
  const distance = before && last.op === '-' && ((last.a === target && last.b === before.c) || (last.b === target && last.a === before.c));
  return distance && !targetUnused(steps.slice(0, -1), target, numbers) ? before.c : last.c;
}

/** The tries among `steps` (runs of steps ending in a verdict). */
export function parseTries(text: string, steps: ArithmeticStep[], target: bigint, numbers: readonly bigint[]): CountdownTry[] {
  const tries: CountdownTry[] = [];
  let runStart = 0;
  for (let i = 0; i < steps.length; i++) {
    const next = steps[i + 1];
    if (next && RUN_SEPARATOR.test(text.slice(steps[i]!.end, next.start))) continue;
    const run = steps.slice(runStart, i + 1);
    runStart = i + 1;
    const verdict = VERDICT.exec(text.slice(steps[i]!.end, next?.start ?? text.length));
    if (!verdict) continue;
    const word = verdict[1]!.toLowerCase() as 'yes' | 'no';
    const value = tryValue(run, target, numbers);
    tries.push({
      steps: run, verdict: word, value, verdictRight: (word === 'yes') === (value === target),
      start: run[0]!.start, end: steps[i]!.end + verdict[0].length,
    });
  }
  return tries;
}

/**
 * The final answer as TinyZero's reward reads it from prompt + response (countdown.ts extractSolution:
 * after the first "Assistant:" or `<|im_start|>assistant`, the last line's last `<answer>`), with
 * where it starts in the response; null when there is none or it lies in the prompt.
 */
export function finalAnswer(prompt: string, response: string): { equation: string; start: number } | null {
  const text = prompt + response;
  let from: number;
  if (text.includes('Assistant:')) from = text.indexOf('Assistant:') + 'Assistant:'.length;
  else if (text.includes('<|im_start|>assistant')) from = text.indexOf('<|im_start|>assistant') + '<|im_start|>assistant'.length;
  else return null;
  const lineStart = Math.max(from, text.lastIndexOf('\n') + 1);
  const span = lastAnswerSpan(text.slice(lineStart));
  if (span === null) return null;
  const start = lineStart + span.start - prompt.length;
  return start < 0 ? null : { equation: span.text, start };
}

/** The answer's value equals an integer: exactly for ints, within 1e-5 (the reward's tolerance) for floats. */
function equals(result: PyNum, value: bigint): boolean {
  if (result.k === 'int') return BigInt(result.v) === value;
  if (result.k === 'float') return Math.abs(result.v - Number(value)) < 1e-5;
  return Math.hypot(result.re - Number(value), result.im) < 1e-5;
}

/** The behaviour of one response (the text after the prompt) to a problem: its target and numbers. */
export function countdownBehavior(prompt: string, response: string, problem: CountdownGroundTruth): CountdownBehavior {
  const t = BigInt(problem.target);
  const steps = parseSteps(response);
  const tries = parseTries(response, steps, t, problem.numbers.map((n) => BigInt(n)));
  const answer = finalAnswer(prompt, response);
  let answerAfterPassedCheck = false;
  if (answer) {
    // The last try before the answer passed its check, with no other step or answer between them...
    const lastTry = tries.filter((x) => x.end <= answer.start).at(-1);
    const lastStep = steps.filter((s) => s.end <= answer.start).at(-1);
    const between = lastTry ? response.slice(lastTry.end, answer.start - '<answer>'.length) : '';
    if (lastTry?.verdict === 'yes' && lastStep === lastTry.steps.at(-1) && !between.includes('<answer>')) {
      // ...and the answer evaluates to the value that passed.
      const result = evaluateEquation(pyStrip(answer.equation));
      answerAfterPassedCheck = result !== null && equals(result, lastTry.value);
    }
  }
  return { steps, tries, answer: answer?.equation ?? null, answerAfterPassedCheck };
}

/** A metric's total and what it is averaged over (responses, steps or verdicts). */
export type MetricTerm = readonly [sum: number, count: number];

/**
 * One response's terms of the `behavior/*` metrics: tries_per_response, answer_after_passed_check
 * and response_length (tokens) average over responses; arith_correct over arithmetic steps;
 * verdict_correct over verdicts.
 */
export function countdownBehaviorTerms(prompt: string, response: string, problem: CountdownGroundTruth, responseLength: number): Record<string, MetricTerm> {
  const b = countdownBehavior(prompt, response, problem);
  return {
    tries_per_response: [b.tries.length, 1],
    arith_correct: [b.steps.filter((s) => s.right).length, b.steps.length],
    answer_after_passed_check: [b.answerAfterPassedCheck ? 1 : 0, 1],
    verdict_correct: [b.tries.filter((x) => x.verdictRight).length, b.tries.length],
    response_length: [responseLength, 1],
  };
}
