import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsCursor, MetricsTable, buildSeries, fmt, num, parseIncrement, type MetricsRow } from '../../src/tracking/dashboard-client/model.js';

test('the table merges rows by step, in step order, and picks the default charts', () => {
  const t = new MetricsTable();
  assert.equal(t.add({ step: 2, 'critic/score/mean': 0.2, other: 1, time: 'x' }), true);
  t.add({ step: 1, 'critic/score/mean': 0.1, 'val/test_score/x': 0.5 });
  t.add({ step: 2, 'critic/score/mean': 0.25 }); // logged again: replaces
  assert.equal(t.add({ nostep: 1 }), false);
  assert.equal(t.add(null), false);
  assert.deepEqual(t.rows.map((r) => [r.step, r['critic/score/mean']]), [[1, 0.1], [2, 0.25]]);
  assert.deepEqual(t.keys, ['critic/score/mean', 'other', 'val/test_score/x']);
  assert.deepEqual(t.chosenKeys(), ['critic/score/mean', 'val/test_score/x']);
  t.choose('other', true);
  t.choose('critic/score/mean', false);
  assert.deepEqual(t.chosenKeys(), ['val/test_score/x', 'other']);
  t.add({ step: 3, 'actor/pg_loss': 1 });
  assert.equal(t.chosen.has('actor/pg_loss'), false, 'after the user chose, new defaults are not added');
});

test('num and fmt read the non-finite strings of metrics.jsonl', () => {
  assert.deepEqual(['Infinity', '-Infinity', 'NaN', 3, 'x'].map(num), [Infinity, -Infinity, NaN, 3, NaN]);
  assert.deepEqual([0.12345, 1e-5, 123456, NaN, 0].map(fmt), ['0.123', '1.00e-5', '1.23e+5', 'NaN', '0']);
});

test('the cursor follows increments and starts over on a reset or a new generation', () => {
  const t = new MetricsTable();
  const c = new MetricsCursor();
  assert.equal(c.query(), 'from=0');
  assert.equal(c.apply(parseIncrement({ generation: 0, from: 0, next: 40, more: true, reset: false, rows: [{ step: 1 }, { step: 2 }] }), t), true);
  assert.equal(c.query(), 'from=40&generation=0');
  c.apply(parseIncrement({ generation: 0, from: 40, next: 60, more: false, reset: false, rows: [{ step: 3 }] }), t);
  assert.deepEqual(t.rows.map((r) => r.step), [1, 2, 3]);
  c.apply(parseIncrement({ generation: 1, from: 0, next: 20, more: false, reset: true, rows: [{ step: 1 }] }), t);
  assert.deepEqual(t.rows.map((r) => r.step), [1]);
  assert.equal(c.query(), 'from=20&generation=1');
  assert.throws(() => parseIncrement([{ step: 1 }]), /not a \/metrics increment/);
  assert.throws(() => parseIncrement({ generation: 0, from: 0, next: 1.5, more: false, reset: false, rows: [] }), /not a \/metrics increment/);
});

test('series keep every finite point when few, and each bucket\'s extremes when many', () => {
  const rows: MetricsRow[] = [{ step: 1, a: 1 }, { step: 2, a: 'NaN' }, { step: 3 }, { step: 4, a: 'Infinity' }];
  assert.deepEqual(buildSeries(rows, 'a'), { points: [[1, 1]], last: { step: 4, value: Infinity } });
  // 10,000 steps of a sine with one spike: thinned to at most 200 points, the spike and the
  // extremes kept, steps increasing.
  const many: MetricsRow[] = Array.from({ length: 10_000 }, (_, i) => ({ step: i + 1, a: i === 6789 ? 50 : Math.sin(i / 100) }));
  const { points, last } = buildSeries(many, 'a', 200);
  assert.ok(points.length <= 200 && points.length >= 100, String(points.length));
  assert.ok(points.some((p) => p[0] === 6790 && p[1] === 50), 'the spike survives');
  const values = many.map((r) => r.a as number);
  assert.equal(Math.min(...points.map((p) => p[1])), Math.min(...values));
  for (let i = 1; i < points.length; i++) assert.ok(points[i]![0] > points[i - 1]![0]);
  assert.deepEqual(last, { step: 10_000, value: Math.sin(9999 / 100) });
  assert.equal(buildSeries(many, 'a', 20_000).points.length, 10_000);
});

test('behaviour metrics are charted by default in their own group, training before validation, in a fixed order of names', () => {
  const t = new MetricsTable();
  t.add({ step: 0, 'val/accuracy/countdown': 0.1, 'val/behavior/tries_per_response/countdown': 1.2, 'val/behavior/response_length/countdown': 40 });
  t.add({
    step: 1, 'critic/score/mean': 0.2, 'behavior/response_length': 41, 'behavior/zeta': 1, 'behavior/arith_correct': 0.9,
    'behavior/tries_per_response': 1.5, 'behavior/answer_after_passed_check': 0.1, 'behavior/verdict_correct': 0.95, 'actor/lr': 1e-3,
  });
  assert.deepEqual(t.chartGroups(), [
    {
      title: 'Behaviour (what the responses do: tries, checks, arithmetic)',
      keys: ['behavior/tries_per_response', 'val/behavior/tries_per_response/countdown', 'behavior/answer_after_passed_check', 'behavior/verdict_correct',
        'behavior/arith_correct', 'behavior/response_length', 'val/behavior/response_length/countdown', 'behavior/zeta'],
    },
    { title: null, keys: ['critic/score/mean', 'val/accuracy/countdown'] },
  ]);
  // A run without behaviour metrics has one untitled group; what the user unticks is not charted.
  const plain = new MetricsTable();
  plain.add({ step: 1, 'critic/score/mean': 0.2 });
  assert.deepEqual(plain.chartGroups(), [{ title: null, keys: ['critic/score/mean'] }]);
  t.choose('behavior/zeta', false);
  assert.equal(t.chartGroups()[0]!.keys.includes('behavior/zeta'), false);
});
