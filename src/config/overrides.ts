/**
 * Hydra's command-line override syntax, as veRL scripts use it (the shell has already expanded
 * `$VAR`s): `key.path=value` sets, `+key=value` adds, `++key=value` adds or sets, `~key` deletes.
 * Values follow Hydra's grammar: null, booleans in any case, ints, floats (`1e-6`, `.5`, `inf`),
 * quoted strings, `[a, 'b', 3]` lists, `{k: v}` mappings, anything else an unquoted string.
 */
import type { YamlMap, YamlValue } from './types.js';

export type OverrideOp = 'set' | 'add' | 'force' | 'delete';

export interface Override {
  op: OverrideOp;
  /** dotted key as written, without the prefix */
  key: string;
  path: string[];
  /** absent for a `~key` without value */
  value?: YamlValue;
  /** the value's text as written: an unquoted `007` is the int 7 to Hydra, but a string key wants "007" */
  text?: string;
  /** the whole argument, for error messages */
  arg: string;
}

const KEY = /^[A-Za-z_][\w-]*(\.[A-Za-z_0-9][\w-]*)*$/;

export function parseOverride(arg: string): Override {
  let op: OverrideOp = 'set';
  let rest = arg;
  if (rest.startsWith('++')) [op, rest] = ['force', rest.slice(2)];
  else if (rest.startsWith('+')) [op, rest] = ['add', rest.slice(1)];
  else if (rest.startsWith('~')) [op, rest] = ['delete', rest.slice(1)];
  const eq = rest.indexOf('=');
  const key = (eq < 0 ? rest : rest.slice(0, eq)).trim();
  if (!KEY.test(key)) throw new SyntaxError(`override '${arg}': '${key}' is not a dotted key (expected key.path=value)`);
  if (eq < 0) {
    if (op !== 'delete') throw new SyntaxError(`override '${arg}': missing '=' (expected ${key}=value)`);
    return { op, key, path: key.split('.'), arg };
  }
  const text = rest.slice(eq + 1);
  return { op, key, path: key.split('.'), value: parseOverrideValue(text, arg), text: text.trim(), arg };
}

/** One Hydra value. Throws SyntaxError naming `arg` on unbalanced brackets or quotes. */
export function parseOverrideValue(text: string, arg = text): YamlValue {
  const p = new ValueParser(text, arg);
  const value = p.element(true);
  p.skipSpace();
  if (!p.done()) p.fail(`unexpected '${text.slice(p.pos)}'`);
  return value;
}

const NULL = /^null$/i;
const BOOL = /^(true|false)$/i;
const INT = /^[+-]?\d(_?\d)*$/;
const FLOAT = /^[+-]?((\d(_?\d)*)?\.\d(_?\d)*|\d(_?\d)*\.?)([eE][+-]?\d+)?$/;
const SPECIAL_FLOAT = /^[+-]?(inf|nan)$/i;

/** Hydra's primitive typing of an unquoted token. */
export function primitive(token: string): YamlValue {
  if (NULL.test(token)) return null;
  if (BOOL.test(token)) return token.toLowerCase() === 'true';
  if (INT.test(token)) return Number(token.replaceAll('_', ''));
  if (FLOAT.test(token) && /\d/.test(token)) return Number(token.replaceAll('_', ''));
  if (SPECIAL_FLOAT.test(token)) {
    const neg = token.startsWith('-');
    return /nan/i.test(token) ? NaN : neg ? -Infinity : Infinity;
  }
  return token;
}

class ValueParser {
  pos = 0;
  constructor(
    readonly text: string,
    readonly arg: string,
  ) {}

  done(): boolean {
    return this.pos >= this.text.length;
  }

  fail(why: string): never {
    throw new SyntaxError(`override '${this.arg}': ${why}`);
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  /** top: the whole value, where an unquoted token may hold commas and brackets are not special inside */
  element(top: boolean): YamlValue {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '[') return this.list();
    if (c === '{') return this.mapping();
    if (c === "'" || c === '"') return this.quoted(c);
    return primitive(this.token(top));
  }

  /** `key`: a mapping's key, which ends at ':'; values may hold colons (Hydra: `[http://host:8000]`). */
  token(top: boolean, key = false): string {
    const start = this.pos;
    // ${...} interpolations may contain any of the stop characters
    let depth = 0;
    while (!this.done()) {
      const c = this.text[this.pos]!;
      if (c === '$' && this.text[this.pos + 1] === '{') depth++;
      else if (c === '}' && depth > 0) depth--;
      else if (depth === 0 && top && c === ',') this.fail("unquoted ',' (a Hydra sweep); quote the value or write a list [a, b]");
      else if (depth === 0 && !top && (/[,\]}]/.test(c) || (key && c === ':'))) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos).trim();
  }

  quoted(q: string): string {
    this.pos++;
    let out = '';
    while (!this.done() && this.text[this.pos] !== q) {
      if (this.text[this.pos] === '\\' && (this.text[this.pos + 1] === q || this.text[this.pos + 1] === '\\')) this.pos++;
      out += this.text[this.pos++];
    }
    if (this.done()) this.fail(`unterminated ${q} quote`);
    this.pos++;
    return out;
  }

  list(): YamlValue[] {
    this.pos++;
    const out: YamlValue[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.element(false));
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail(c === undefined ? "missing ']'" : `expected ',' or ']' in a list, got '${c}'`);
    }
  }

  mapping(): YamlMap {
    this.pos++;
    const out: YamlMap = {};
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      const key = this.text[this.pos] === "'" || this.text[this.pos] === '"' ? this.quoted(this.text[this.pos]!) : this.token(false, true);
      if (key === '') this.fail('empty key in a mapping');
      this.skipSpace();
      if (this.text[this.pos++] !== ':') this.fail(`expected ':' after '${key}' in a mapping`);
      out[key] = this.element(false);
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail(c === undefined ? "missing '}'" : `expected ',' or '}' in a mapping, got '${c}'`);
    }
  }
}
