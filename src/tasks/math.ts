/**
 * MATH scoring (verl/utils/reward_score/math.py, EleutherAI's hendrycks_math normalisation): the
 * last `\boxed{...}` of the response against the ground truth after `stripString`. Behaviour is
 * kept down to its exceptions: where the Python raises inside `strip_string` (e.g. `int()` of a
 * non-number around a single `/`), `is_equiv` falls back to comparing the raw strings.
 */
import { pyIntOfString } from './py-str.js';

export const MATH_DATA_SOURCE = 'lighteval/MATH';

export function mathPrompt(problem: string): string {
  return `${problem} Let's think step by step and output the final answer within \\boxed{}.`;
}

class NormaliseError extends Error {}

/** The last `\boxed{...}` (or `\fbox{...}`) with its braces balanced, or `\boxed <text up to $>`. */
export function lastBoxedOnlyString(s: string): string | null {
  let idx = s.lastIndexOf('\\boxed');
  if (s.includes('\\boxed ')) return `\\boxed ${s.split('\\boxed ').at(-1)!.split('$')[0]!}`;
  if (idx < 0) {
    idx = s.lastIndexOf('\\fbox');
    if (idx < 0) return null;
  }
  let open = 0;
  for (let i = idx; i < s.length; i++) {
    if (s[i] === '{') open++;
    if (s[i] === '}') {
      open--;
      if (open === 0) return s.slice(idx, i + 1);
    }
  }
  return null;
}

/** Strips `\boxed{` ... `}`; anything else (an `\fbox`) is the Python's AssertionError. */
export function removeBoxed(s: string): string {
  if (s.includes('\\boxed ')) {
    if (!s.startsWith('\\boxed ')) throw new NormaliseError('not a \\boxed answer');
    return s.slice('\\boxed '.length);
  }
  if (!s.startsWith('\\boxed{') || !s.endsWith('}')) throw new NormaliseError('not a \\boxed{} answer');
  return s.slice('\\boxed{'.length, -1);
}

function fixFracs(s: string): string {
  const parts = s.split('\\frac');
  let out = parts[0]!;
  for (const sub of parts.slice(1)) {
    out += '\\frac';
    if (sub.length === 0) throw new NormaliseError('\\frac at the end'); // substr[0] IndexError
    if (sub[0] === '{') {
      out += sub;
      continue;
    }
    if (sub.length < 2) return s;
    const a = sub[0]!;
    const b = sub[1]!;
    const post = sub.slice(2);
    out += b !== '{' ? `{${a}}{${b}}${post}` : `{${a}}${b}${post}`;
  }
  return out;
}

function fixASlashB(s: string): string {
  const parts = s.split('/');
  if (parts.length !== 2) return s;
  const a = pyIntOfString(parts[0]!);
  const b = pyIntOfString(parts[1]!);
  if (a === null || b === null) throw new NormaliseError('int() of a non-number'); // ValueError escapes
  if (s !== `${a}/${b}`) return s;
  return `\\frac{${a}}{${b}}`;
}

function removeRightUnits(s: string): string {
  if (!s.includes('\\text{ ')) return s;
  const parts = s.split('\\text{ ');
  if (parts.length !== 2) throw new NormaliseError('more than one \\text{ ');
  return parts[0]!;
}

function fixSqrt(s: string): string {
  if (!s.includes('\\sqrt')) return s;
  const parts = s.split('\\sqrt');
  let out = parts[0]!;
  for (const part of parts.slice(1)) {
    if (part.length === 0) throw new NormaliseError('\\sqrt at the end'); // split[0] IndexError
    out += part[0] !== '{' ? `\\sqrt{${part[0]}}${part.slice(1)}` : `\\sqrt${part}`;
  }
  return out;
}

export function stripString(input: string): string {
  let s = input.replaceAll('\n', '').replaceAll('\\!', '').replaceAll('\\\\', '\\');
  s = s.replaceAll('tfrac', 'frac').replaceAll('dfrac', 'frac');
  s = s.replaceAll('\\left', '').replaceAll('\\right', '');
  s = s.replaceAll('^{\\circ}', '').replaceAll('^\\circ', '');
  s = s.replaceAll('\\$', '');
  s = removeRightUnits(s);
  s = s.replaceAll('\\%', '');
  s = s.replaceAll(' .', ' 0.').replaceAll('{.', '{0.');
  if (s.length === 0) return s;
  if (s[0] === '.') s = `0${s}`;
  const eq = s.split('=');
  if (eq.length === 2 && eq[0]!.length <= 2) s = eq[1]!;
  s = fixSqrt(s);
  s = s.replaceAll(' ', '');
  s = fixFracs(s);
  if (s === '0.5') s = '\\frac{1}{2}';
  return fixASlashB(s);
}

export function isEquiv(a: string | null, b: string | null): boolean {
  if (a === null && b === null) return true;
  if (a === null || b === null) return false;
  try {
    return stripString(a) === stripString(b);
  } catch (e) {
    if (e instanceof NormaliseError) return a === b;
    throw e;
  }
}

export function computeScore(solutionStr: string, groundTruth: unknown): number {
  const boxed = lastBoxedOnlyString(solutionStr);
  if (boxed === null) return 0;
  let answer: string;
  try {
    answer = removeBoxed(boxed);
  } catch (e) {
    if (e instanceof NormaliseError) return 0;
    throw e;
  }
  if (typeof groundTruth !== 'string' && groundTruth !== null) return 0; // strip_string of a non-str raises; the Python compares unequal types
  return isEquiv(answer, groundTruth) ? 1 : 0;
}
