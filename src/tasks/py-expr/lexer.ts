/**
 * CPython's tokenizer, cut down to what the Countdown character class lets through
 * (`[\d+\-*\/().\s]`): decimal int and float literals, the six operators, parentheses and
 * whitespace. Everything else is a SyntaxError, as it would be for `eval`.
 */
import { MAX_INT_BITS, PyEvalError, pyFloat, pyInt, type PyNum } from './values.js';

export type Token =
  | { t: 'num'; value: PyNum }
  | { t: 'op'; op: '+' | '-' | '*' | '/' | '//' | '**' }
  | { t: '(' }
  | { t: ')' }
  | { t: 'ellipsis' }
  | { t: 'newline' }
  | { t: 'end' };

/** CPython's tokenizer refuses a 201st nested parenthesis (MAXLEVEL). */
export const MAX_PAREN_LEVEL = 200;
const MAX_INT_DIGITS = Math.ceil(MAX_INT_BITS * Math.log10(2)) + 1;

const OPEN: Token = { t: '(' };
const CLOSE: Token = { t: ')' };
const NEWLINE: Token = { t: 'newline' };
const ELLIPSIS: Token = { t: 'ellipsis' };
const END: Token = { t: 'end' };
const OPS = {
  '+': { t: 'op', op: '+' }, '-': { t: 'op', op: '-' }, '*': { t: 'op', op: '*' },
  '/': { t: 'op', op: '/' }, '//': { t: 'op', op: '//' }, '**': { t: 'op', op: '**' },
} as const satisfies Record<string, Token>;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

export class Lexer {
  #pos = 0;
  #level = 0;

  constructor(private readonly src: string) {}

  next(): Token {
    const s = this.src;
    for (;;) {
      if (this.#pos >= s.length) {
        if (this.#level > 0) throw new PyEvalError('syntax', "'(' was never closed");
        return END;
      }
      const c = s.charCodeAt(this.#pos);
      if (c === 32 || c === 9 || c === 12) { // space, tab, form feed
        this.#pos++;
        continue;
      }
      if (c === 10 || c === 13) {
        this.#pos += c === 13 && s.charCodeAt(this.#pos + 1) === 10 ? 2 : 1;
        if (this.#level > 0) continue; // implicit line joining inside parentheses
        return NEWLINE;
      }
      if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(this.#pos + 1)))) return this.#number();
      this.#pos++;
      switch (c) {
        case 40:
          if (this.#level >= MAX_PAREN_LEVEL) throw new PyEvalError('syntax', 'too many nested parentheses');
          this.#level++;
          return OPEN;
        case 41:
          if (this.#level === 0) throw new PyEvalError('syntax', "unmatched ')'");
          this.#level--;
          return CLOSE;
        case 43: return OPS['+'];
        case 45: return OPS['-'];
        case 42:
          if (s.charCodeAt(this.#pos) === 42) { this.#pos++; return OPS['**']; }
          return OPS['*'];
        case 47:
          if (s.charCodeAt(this.#pos) === 47) { this.#pos++; return OPS['//']; }
          return OPS['/'];
        case 46:
          if (s.startsWith('..', this.#pos)) {
            this.#pos += 2;
            return ELLIPSIS;
          }
          throw new PyEvalError('syntax', "a '.' that is not part of a number");
        default:
          throw new PyEvalError('syntax', `invalid character ${JSON.stringify(s[this.#pos - 1])} at ${this.#pos - 1}`);
      }
    }
  }

  /** Decimal literals: `0`, `00`, `12`, `1.`, `.5`, `007.5`; `09` is the leading-zero SyntaxError. */
  #number(): Token {
    const s = this.src;
    const start = this.#pos;
    let p = start;
    while (isDigit(s.charCodeAt(p))) p++;
    let isFloat = false;
    if (s.charCodeAt(p) === 46) {
      isFloat = true;
      p++;
      while (isDigit(s.charCodeAt(p))) p++;
    }
    this.#pos = p;
    const text = s.slice(start, p);
    if (isFloat) return { t: 'num', value: pyFloat(Number(text)) };
    if (text.length > 1 && text.charCodeAt(0) === 48 && /[1-9]/.test(text)) {
      throw new PyEvalError('syntax', `leading zeros in decimal integer literals are not permitted: '${text.slice(0, 20)}'`);
    }
    if (text.length <= 15) return { t: 'num', value: pyInt(Number(text)) };
    if (text.length > MAX_INT_DIGITS) throw new PyEvalError('too-large', `int literal with ${text.length} digits`);
    return { t: 'num', value: pyInt(BigInt(text)) };
  }
}
