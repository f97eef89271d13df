/**
 * Evaluates a Python arithmetic expression the way `eval` would for TinyZero's Countdown reward,
 * without `eval`: operator-precedence parsing (shunting-yard, no recursion) over the lexer's tokens.
 * Python's precedence: `**` binds tighter than a unary minus on its left but its right operand may
 * carry one (`-2**2 == -4`, `2**-1 == 0.5`) and is right-associative; `*`, `/`, `//` bind tighter
 * than `+`, `-`. A first pass only parses, so a SyntaxError anywhere wins over a runtime error, as
 * with `eval`; the second pass computes each reduction as it happens.
 *
 * Time is bounded on any input: the lexer is linear, nesting is capped like CPython's (200
 * parentheses; expression depth as CPython 3.11's compiler allows), and big-int sizes and work are
 * capped (values.ts), past which the expression is "not evaluable" ('too-large').
 */
import { binary, negate, type BinaryOp, type Budget } from './arith.js';
import { Lexer } from './lexer.js';
import { PyEvalError, pyInt, type PyNum } from './values.js';

/**
 * Deliberate limits beyond CPython's, so any input is scored in a few milliseconds: a longer source,
 * or one with more operands and operators than this, is 'too-large'. No model answer comes near them.
 */
export const MAX_SOURCE_CHARS = 100_000;
export const MAX_NODES = 10_000;

/** CPython 3.11 compiles `1+1+...` up to 2991 terms and 2990 unary minuses; deeper fails to compile. */
export const MAX_EXPR_DEPTH = 2991;

type StackOp =
  | { kind: 'bin'; op: BinaryOp; prec: number }
  | { kind: 'unary'; op: '+' | '-' }
  | { kind: 'paren' }
  | { kind: 'call' };

const PREC: Record<BinaryOp, number> = { '+': 1, '-': 1, '*': 2, '/': 2, '//': 2, '**': 4 };
const UNARY_PREC = 3;
/** A value that is valid Python but not a number: `()` or `...`. Any arithmetic on it is a TypeError. */
const NOT_A_NUMBER = null;
const PLACEHOLDER = pyInt(0);

export type EvalResult = { ok: true; value: PyNum } | { ok: false; error: PyEvalError };

/** Evaluates or throws a PyEvalError saying why the expression is not evaluable. */
export function evaluatePython(src: string): PyNum {
  if (src.length > MAX_SOURCE_CHARS) throw new PyEvalError('too-large', `expression longer than ${MAX_SOURCE_CHARS} characters`);
  run(src, false);
  const value = run(src, true);
  if (value === NOT_A_NUMBER) throw new PyEvalError('type', 'the result is not a number');
  return value;
}

export function tryEvaluatePython(src: string): EvalResult {
  try {
    return { ok: true, value: evaluatePython(src) };
  } catch (error) {
    if (error instanceof PyEvalError) return { ok: false, error };
    throw error;
  }
}

function run(src: string, compute: boolean): PyNum | null {
  const lexer = new Lexer(src);
  const budget: Budget = { work: 0 };
  const values: (PyNum | null)[] = [];
  const depths: number[] = [];
  const ops: StackOp[] = [];
  let pendingOps = 0; // operators on the stack: each encloses the ones above it, so depth >= pendingOps
  let expectOperand = true;
  let seenToken = false;
  let nodes = 0;

  const pushValue = (v: PyNum | null, depth: number): void => {
    if (depth > MAX_EXPR_DEPTH) throw new PyEvalError('too-deep', 'expression too deeply nested');
    if (++nodes > MAX_NODES) throw new PyEvalError('too-large', `expression with more than ${MAX_NODES} terms`);
    values.push(v);
    depths.push(depth);
  };
  const pushOp = (op: StackOp): void => {
    ops.push(op);
    if (op.kind !== 'paren' && ++pendingOps >= MAX_EXPR_DEPTH) throw new PyEvalError('too-deep', 'expression too deeply nested');
  };
  const popOp = (): StackOp => {
    const op = ops.pop()!;
    if (op.kind !== 'paren') pendingOps--;
    return op;
  };
  const notNumber = (): never => {
    throw new PyEvalError('type', 'arithmetic on a value that is not a number');
  };
  const reduceTop = (): void => {
    const top = popOp();
    if (top.kind === 'unary') {
      const a = values.pop()!;
      const d = depths.pop()! + 1;
      if (!compute) return pushValue(PLACEHOLDER, d);
      if (a === NOT_A_NUMBER) notNumber();
      pushValue(top.op === '-' ? negate(a!) : a, d);
    } else if (top.kind === 'bin') {
      const b = values.pop()!;
      const a = values.pop()!;
      const d = Math.max(depths.pop()!, depths.pop()!) + 1;
      if (!compute) return pushValue(PLACEHOLDER, d);
      if (a === NOT_A_NUMBER || b === NOT_A_NUMBER) notNumber();
      pushValue(binary(top.op, a!, b!, budget), d);
    }
  };
  /** `f(x)` or `f()`: syntactically fine, but calling a number is a TypeError. */
  const reduceCall = (hasArg: boolean): void => {
    const d = Math.max(depths.pop()!, hasArg ? depths.pop()! : 0) + 1;
    values.pop();
    if (hasArg) values.pop();
    if (compute) throw new PyEvalError('type', 'a number is not callable');
    pushValue(PLACEHOLDER, d);
  };
  const finish = (): PyNum | null => {
    while (ops.length > 0) reduceTop();
    return values[0]!;
  };

  for (;;) {
    const tok = lexer.next();
    if (expectOperand) {
      switch (tok.t) {
        case 'num':
          pushValue(tok.value, 1);
          expectOperand = false;
          break;
        case 'ellipsis':
          pushValue(NOT_A_NUMBER, 1);
          expectOperand = false;
          break;
        case 'op':
          if (tok.op !== '+' && tok.op !== '-') throw new PyEvalError('syntax', `'${tok.op}' where an operand was expected`);
          pushOp({ kind: 'unary', op: tok.op });
          break;
        case '(':
          pushOp({ kind: 'paren' });
          break;
        case ')': {
          const top = ops.at(-1);
          if (top?.kind === 'paren') { // `()`: the empty tuple
            popOp();
            pushValue(NOT_A_NUMBER, 1);
            expectOperand = false;
          } else if (top?.kind === 'call') {
            popOp();
            reduceCall(false);
            expectOperand = false;
          } else {
            throw new PyEvalError('syntax', "')' where an operand was expected");
          }
          break;
        }
        case 'newline':
          if (seenToken) throw new PyEvalError('syntax', 'line break inside the expression');
          break; // blank lines before the expression are skipped
        case 'end':
          throw new PyEvalError('syntax', seenToken ? 'expression ends with an operator' : 'empty expression');
      }
      if (tok.t !== 'newline') seenToken = true;
      continue;
    }
    switch (tok.t) {
      case 'op': {
        const prec = PREC[tok.op];
        const rightAssoc = tok.op === '**';
        for (;;) {
          const top = ops.at(-1);
          if (!top || top.kind === 'paren' || top.kind === 'call') break;
          const topPrec = top.kind === 'unary' ? UNARY_PREC : top.prec;
          if (topPrec > prec || (topPrec === prec && !rightAssoc)) reduceTop();
          else break;
        }
        pushOp({ kind: 'bin', op: tok.op, prec });
        expectOperand = true;
        break;
      }
      case ')': {
        while (ops.at(-1)!.kind !== 'paren' && ops.at(-1)!.kind !== 'call') reduceTop(); // the lexer balanced them
        if (popOp().kind === 'call') reduceCall(true);
        break;
      }
      case '(':
        pushOp({ kind: 'call' });
        expectOperand = true;
        break;
      case 'num':
      case 'ellipsis':
        throw new PyEvalError('syntax', 'two operands in a row');
      case 'newline': {
        let rest = lexer.next();
        while (rest.t === 'newline') rest = lexer.next();
        if (rest.t !== 'end') throw new PyEvalError('syntax', 'line break inside the expression');
        return finish();
      }
      case 'end':
        return finish();
    }
  }
}
