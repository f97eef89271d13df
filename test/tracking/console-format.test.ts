import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestMetricInLog, formatMetricValue, formatStepLine, parseStepLine } from '../../src/tracking/index.js';
import { pythonFixed3 } from '../../src/tracking/console-format.js';

/** tests/e2e/check_results.py transcribed line by line, to check our lines against the real algorithm. */
function checkResultsBest(output: string): number {
  const extract = (line: string): number => {
    try {
      for (const keyVal of line.split(' - ')) {
        const parts = keyVal.split(':');
        if (parts.length !== 2) throw new Error('ValueError: not enough/too many values to unpack');
        const [key, val] = parts as [string, string];
        if (key === 'critic/rewards/mean') {
          const s = val.trim();
          if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s) && !/^[+-]?(nan|inf|infinity)$/i.test(s)) throw new Error('float()');
          return /nan/i.test(s) ? NaN : /inf/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : Number(s);
        }
      }
      return -Infinity;
    } catch {
      return -Infinity;
    }
  };
  let best = -Infinity;
  for (const line of output.split('\n')) if (line.startsWith('step')) { const r = extract(line); if (r > best) best = r; }
  return best;
}

test("pythonFixed3 matches Python's f'{v:.3f}' (values printed by CPython 3)", () => {
  const python: [number, string][] = [
    [0.0625, '0.062'], [-0.0625, '-0.062'], [0.1875, '0.188'], [0.3125, '0.312'], [2.5, '2.500'],
    [1e21, '1000000000000000000000.000'], [1e22, '10000000000000000000000.000'], [-0, '-0.000'],
    [NaN, 'nan'], [Infinity, 'inf'], [-Infinity, '-inf'], [0.0005, '0.001'], [1.0005, '1.000'], [3, '3.000'],
    [123456.78951, '123456.790'], [1 / 3, '0.333'], [-1e-9, '-0.000'],
  ];
  for (const [v, want] of python) assert.equal(pythonFixed3(v), want, `value ${v}`);
});

test("formatMetricValue is Python's .3f from 0.01 up, 4 significant digits below (Python's .3e under 1e-4)", () => {
  const cases: [number, string][] = [
    [5e-4, '0.0005000'], [-0.0012346, '-0.001235'], [0.00999, '0.009990'], [0.01, '0.010'], [0.0625, '0.062'],
    [3, '3.000'], [0, '0.000'], [-0, '-0.000'], [1e-6, '1.000e-06'], [-1e-9, '-1.000e-09'], [1.23456e-5, '1.235e-05'],
    [5e-300, '5.000e-300'], [NaN, 'nan'], [Infinity, 'inf'],
  ];
  for (const [v, want] of cases) assert.equal(formatMetricValue(v), want, `value ${v}`);
  // An LR of 5e-4 no longer prints as 0.001 (.3f), and still parses back with the e2e algorithm.
  const line = formatStepLine(3, { 'actor/lr': 5e-4, 'critic/kl': 2.5e-7 });
  assert.equal(line, 'step:3 - actor/lr:0.0005000 - critic/kl:2.500e-07');
  assert.equal(parseStepLine(line).get('actor/lr'), 5e-4);
  assert.equal(parseStepLine(line).get('critic/kl'), 2.5e-7);
});

test('formatStepLine prints veRL\'s line in the order the metrics were given', () => {
  const line = formatStepLine(7, { 'critic/score/mean': 0.25, 'actor/pg_loss': -0.0123456, 'timing_s/step': 12, 'response_length/mean': 31.5 });
  assert.equal(line, 'step:7 - critic/score/mean:0.250 - actor/pg_loss:-0.012 - timing_s/step:12.000 - response_length/mean:31.500');
});

test('names with ":" or spaces are made parseable on the console only', () => {
  const line = formatStepLine(1, { 'val/test_score/a:b c': 0.5, 'critic/rewards/mean': 0.3 });
  assert.equal(line, 'step:1 - val/test_score/a_b_c:0.500 - critic/rewards/mean:0.300');
  assert.equal(parseStepLine(line).get('val/test_score/a_b_c'), 0.5);
});

test('console lines parse with the e2e algorithm (split on " - " then ":") back to 3-decimal values', () => {
  const metrics = { 'critic/rewards/mean': 0.21049, 'critic/kl': 0, 'actor/entropy_loss': NaN, 'critic/vf_loss': Infinity, 'val/test_score/unknown': -1.23456 };
  const line = formatStepLine(42, metrics);
  const parsed = parseStepLine(line);
  assert.equal(parsed.get('step'), 42);
  assert.equal(parsed.get('critic/rewards/mean'), 0.21);
  assert.equal(parsed.get('critic/kl'), 0);
  assert.ok(Number.isNaN(parsed.get('actor/entropy_loss')));
  assert.equal(parsed.get('critic/vf_loss'), Infinity);
  assert.equal(parsed.get('val/test_score/unknown'), -1.235);
  assert.equal(parsed.size, 6);
});

test('bestMetricInLog agrees with the transcribed check_results.py on a mixed log', () => {
  const log = [
    'Using LocalLogger is deprecated.',
    formatStepLine(0, { 'val/test_score/unknown': 0.01 }),
    formatStepLine(1, { 'critic/rewards/mean': 0.105, 'critic/score/mean': 0.9 }),
    '[progress] step 2/3 (33%) | gen | 1.20k tok/s | elapsed 3s | eta 4s',
    formatStepLine(2, { 'critic/rewards/mean': 0.2345 }),
    'step:3 - broken - critic/rewards/mean:0.9', // the script gives up at the bad pair: -inf
    formatStepLine(4, { 'critic/rewards/mean': 0.199 }),
  ].join('\n');
  assert.equal(checkResultsBest(log), 0.234); // step 2's 0.2345 prints as 0.234 (the double is just below); step 3 is -inf
  assert.equal(bestMetricInLog(log, 'critic/rewards/mean'), checkResultsBest(log));
  assert.ok(bestMetricInLog(log, 'critic/rewards/mean') > 0.2);
  assert.equal(bestMetricInLog('no steps here\n', 'critic/rewards/mean'), -Infinity);
});

test('parseStepLine rejects what the Python script would fail on', () => {
  assert.throws(() => parseStepLine('step:1 - a:b:c'), /one ':'/);
  assert.throws(() => parseStepLine('step:1 - a:0x10'), /could not convert/);
  assert.throws(() => parseStepLine('step:1 - a:'), /could not convert/);
});
