import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDataset } from '../../src/data/index.js';
import { progressLines } from '../../src/cli/progress-lines.js';

test('countdown generation reports every row of train + test, in order', () => {
  const seen: [number, number][] = [];
  const data = buildDataset('countdown', { trainSize: 7, testSize: 3, onProgress: (d, t) => seen.push([d, t]) });
  assert.equal(data.train.length + data.test.length, 10);
  assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => [i + 1, 10]));
  // The callback does not change what is generated.
  assert.deepEqual(buildDataset('countdown', { trainSize: 7, testSize: 3 }), data);
});

test('progressLines prints count, share and time left, and always the last row', () => {
  const lines: string[] = [];
  const every = progressLines('gen', (l) => lines.push(l), 0);
  every(250, 1000);
  every(1000, 1000);
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^gen: 250\/1,000 \(25%\), \d+ s, about \d+ s left\n$/);
  assert.match(lines[1]!, /^gen: 1,000\/1,000 \(100%\), \d+ s\n$/);
  const throttled: string[] = [];
  const rare = progressLines('gen', (l) => throttled.push(l), 3_600_000);
  for (let i = 1; i <= 100; i++) rare(i, 100);
  assert.deepEqual(throttled.length, 1, 'only the final line within the interval');
});
