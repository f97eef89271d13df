/**
 * The bits of Python string behaviour the reward functions depend on, where JS differs:
 * `str.strip()`'s whitespace set, `int(str)`, and `re.finditer(r'<answer>(.*?)</answer>')` (whose `.`
 * excludes only `\n`, while JS's `.` also excludes `\r`, U+2028 and U+2029).
 */

// str.isspace() characters: ASCII \t-\r, \x1c-\x1f, space, U+0085, U+00A0 and the Unicode spaces.
const PY_SPACE = '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

export function isPySpace(ch: string): boolean {
  return PY_SPACE.includes(ch);
}

export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.includes(s[a]!)) a++;
  while (b > a && PY_SPACE.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** Python's `\d` (Unicode decimal digits, category Nd) as a JS pattern. */
export const PY_DIGIT_RUN = /\p{Nd}+/gu;

/** Maps a run of Unicode decimal digits to ASCII, as int() reads them; leading zeros dropped. */
export function canonicalDigits(run: string): string {
  if (/^[0-9]*$/.test(run)) {
    let i = 0;
    while (i < run.length - 1 && run.charCodeAt(i) === 48) i++;
    return run.length === 0 ? '0' : run.slice(i);
  }
  let out = '';
  for (const ch of run) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 48 && cp <= 57) { out += ch; continue; }
    // Unicode puts every Nd digit set in 10 consecutive code points, 0 to 9, and adjacent sets
    // (e.g. the mathematical digits) back to back: the offset from the run's start, mod 10, is the digit.
    let start = cp;
    while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
    out += String((cp - start) % 10);
  }
  const stripped = out.replace(/^0+/, '');
  return stripped === '' ? '0' : stripped;
}

/**
 * `int(s)` for a str: surrounding whitespace, an optional sign, digits with single underscores
 * between them, any Unicode decimal digits, leading zeros allowed. Returns the canonical decimal
 * ('-12', '0') or null where Python raises ValueError.
 */
export function pyIntOfString(s: string): string | null {
  const body = pyStrip(s);
  const m = /^([+-]?)(\p{Nd}+(?:_\p{Nd}+)*)$/u.exec(body);
  if (!m) return null;
  const digits = canonicalDigits(m[2]!.replaceAll('_', ''));
  return m[1] === '-' && digits !== '0' ? `-${digits}` : digits;
}

/**
 * The content of the last `<answer>…</answer>` in `s`, with Python's finditer semantics (non-greedy,
 * no `\n` inside, matches never overlap), in linear time: a naive regex would rescan to the end of
 * the line for every unclosed `<answer>`. Returns null when there is no match.
 */
export function lastAnswer(s: string): string | null {
  return lastAnswerSpan(s)?.text ?? null;
}

/** lastAnswer's match with the index in `s` where its content starts. */
export function lastAnswerSpan(s: string): { text: string; start: number } | null {
  const OPEN = '<answer>';
  const CLOSE = '</answer>';
  let pos = 0;
  let last: { text: string; start: number } | null = null;
  let nextClose = -2; // cached index of the first CLOSE at or after some point (-1: none left)
  let nextNewline = -2;
  for (;;) {
    const i = s.indexOf(OPEN, pos);
    if (i < 0) return last;
    const from = i + OPEN.length;
    if (nextClose !== -1 && nextClose < from) nextClose = s.indexOf(CLOSE, from);
    if (nextClose === -1) return last;
    if (nextNewline !== -1 && nextNewline < from) nextNewline = s.indexOf('\n', from);
    if (nextNewline !== -1 && nextNewline < nextClose) {
      pos = i + 1; // this start fails; the regex would try the next position
      continue;
    }
    last = { text: s.slice(from, nextClose), start: from };
    pos = nextClose + CLOSE.length;
  }
}

/** Python's repr of a list of ints: `[44, 19, 35]`. */
export function pyListRepr(items: readonly (number | bigint)[]): string {
  return `[${items.map(String).join(', ')}]`;
}
