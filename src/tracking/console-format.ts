/**
 * veRL's console line, `step:N - key:value - ...`, and the parser that veRL's e2e check
 * (tests/e2e/check_results.py, docs/verl-compat.md#e2e-digit-completion) applies to it.
 *
 * veRL's `concat_dict_to_str` prints `f'{k}:{v:.3f}'` for every value that is a Python number
 * (ints and bools included, so 3 prints as 3.000) in the dict's insertion order; we print in the
 * insertion order of the metrics object the trainer passes, so the trainer decides the order just
 * as veRL's `metrics.update(...)` sequence does.
 *
 * One departure: `.3f` prints a learning rate of 5e-4 as `0.001` and 1e-6 as `0.000`, so values with
 * 0 < |v| < 0.01 keep 4 significant digits instead (`0.0005000`, and Python's `.3e`, `1.000e-06`,
 * below 1e-4). Every such line still parses with veRL's e2e check (Python's float() reads both).
 */

/** A metric value for the console: Python's `.3f`, with 4 significant digits for 0 < |v| < 0.01. */
export function formatMetricValue(v: number): string {
  const a = Math.abs(v);
  if (a > 0 && a < 1e-2) return a < 1e-4 ? pythonExponent(v) : v.toPrecision(4);
  return pythonFixed3(v);
}

/** Python's `f"{v:.3e}"` for a finite nonzero double: the exponent has a sign and at least two digits. */
function pythonExponent(v: number): string {
  const [mantissa, exponent] = v.toExponential(3).split('e') as [string, string];
  const sign = exponent.startsWith('-') ? '-' : '+';
  return `${mantissa}e${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
}

/** Python's `f"{v:.3f}"` for a float: same digits, same nan/inf spelling, same signed zero. */
export function pythonFixed3(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0.000';
  // toFixed switches to exponent notation at 1e21; every double that large is an integer.
  if (Math.abs(v) >= 1e21) return `${BigInt(v).toString()}.000`;
  // Both toFixed and Python round the exact binary value correctly, so they agree except on exact
  // ties, where toFixed rounds away from zero and Python rounds half to even. A double is a tie at
  // 3 decimals only if it is an odd multiple of 1/16 (x*2000 odd and a power-of-two denominator).
  const x16 = Math.abs(v) * 16;
  if (Number.isInteger(x16) && x16 % 2 === 1 && x16 < 2 ** 48) {
    const scaled = Math.abs(v) * 1000; // exact: an odd multiple of 62.5
    const lower = Math.floor(scaled);
    const even = lower % 2 === 0 ? lower : lower + 1;
    const whole = Math.floor(even / 1000);
    const frac = String(even % 1000).padStart(3, '0');
    return `${v < 0 ? '-' : ''}${whole}.${frac}`;
  }
  return v.toFixed(3);
}

/**
 * A metric name as printed. The e2e check splits on ' - ' and then on ':', so a name holding ':'
 * or whitespace would make the whole line unparseable; those characters become '_' on the console
 * only (the JSONL file keeps the real name). veRL's own names never contain them.
 */
export function consoleKey(key: string): string {
  return key.replace(/[:\s]+/g, '_');
}

/** `step:N - key:value - ...` with values in Python's `.3f`; non-number values are skipped like veRL. */
export function formatStepLine(step: number, metrics: Readonly<Record<string, number>>): string {
  const parts = [`step:${step}`];
  for (const [key, value] of Object.entries(metrics)) {
    if (typeof value !== 'number') continue;
    parts.push(`${consoleKey(key)}:${formatMetricValue(value)}`);
  }
  return parts.join(' - ');
}

/** Python's float() on a console value: decimal, exponent, nan/inf/infinity, surrounding spaces. */
export function parsePythonFloat(text: string): number {
  const s = text.trim();
  const special = /^([+-]?)(nan|inf|infinity)$/i.exec(s);
  if (special) {
    if (special[2]!.toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) {
    throw new Error(`could not convert string to float: '${text}'`);
  }
  return Number(s);
}

/**
 * Parses one console line exactly as check_results.py does: split on ' - ', then each part on ':'
 * (exactly two pieces, or it fails), values through float(). The `step:N` part is parsed like any
 * other pair. Throws where the Python script would raise.
 */
export function parseStepLine(line: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of line.replace(/\r?\n$/, '').split(' - ')) {
    const pieces = part.split(':');
    if (pieces.length !== 2) throw new Error(`expected one ':' in '${part}'`);
    out.set(pieces[0]!, parsePythonFloat(pieces[1]!));
  }
  return out;
}

/**
 * check_results.py end to end: over every line that starts with 'step', the largest value of `key`
 * (a line that fails to parse or lacks the key counts as -inf). veRL asserts the result for
 * `critic/rewards/mean` exceeds 0.2.
 */
export function bestMetricInLog(text: string, key: string): number {
  let best = -Infinity;
  for (const line of text.split('\n')) {
    if (!line.startsWith('step')) continue;
    let value = -Infinity;
    try {
      // The script returns at the first matching key, so a repeated key uses its first value.
      for (const part of line.split(' - ')) {
        const pieces = part.split(':');
        if (pieces.length !== 2) throw new Error('bad pair');
        if (pieces[0] === key) { value = parsePythonFloat(pieces[1]!); break; }
      }
    } catch {
      value = -Infinity;
    }
    // Python's max() with a NaN argument keeps whichever came first; NaN never beats a number here.
    if (value > best) best = value;
  }
  return best;
}
