// Side-by-side timing: every round of every contender is kept, odd rounds run the contenders in
// reverse, and pairedSpeedup compares two contenders round by round. Timings are never asserted:
// the contenders here count their calls, and the speedups are computed from given round times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedSpeedup, pairedSpeedupInterval, pairedSpeedupText, race, raceRounds } from '../../src/bench/timing.js';

test('raceRounds times every contender once per round, in reverse order on odd rounds', async () => {
  const order: string[] = [];
  const contender = (name: string) => ({ run: () => { order.push(name); } });
  const rounds = await raceRounds([contender('a'), contender('b')], { rounds: 3, minMs: 0 });
  assert.equal(rounds.length, 2);
  for (const times of rounds) {
    assert.equal(times.length, 3);
    for (const t of times) assert.ok(t >= 0 && Number.isFinite(t));
  }
  // Two sizing calls each (a warm-up and the one that sizes a round), then one call a round
  // (minMs 0): a b, b a, a b.
  assert.deepEqual(order, ['a', 'a', 'b', 'b', 'a', 'b', 'b', 'a', 'a', 'b']);
  const best = await race([contender('a')], { rounds: 2, minMs: 0 });
  assert.equal(best.length, 1);
});

test('raceRounds reads the given clock', async () => {
  // A clock that moves 2 ms per reading: every timed span (one call a round) reads as 2 ms.
  let t = 0;
  const nowMs = () => (t += 2);
  const rounds = await raceRounds([{ run: () => {} }, { run: () => {} }], { rounds: 3, minMs: 0, nowMs });
  assert.deepEqual(rounds, [[0.002, 0.002, 0.002], [0.002, 0.002, 0.002]]);
});

test('pairedSpeedup is the median of the within-round ratios', () => {
  // y takes twice x's time in every round while the machine's speed swings 3x: the speedup is 2,
  // where best against best would give 0.2 / 0.1 = 2 only by luck of the rounds.
  const x = [0.1, 0.3, 0.2], y = [0.2, 0.6, 0.4];
  assert.equal(pairedSpeedup([x, y], 0, 1), 2);
  assert.equal(pairedSpeedup([x, y], 1, 0), 0.5);
  // Odd count: the middle ratio, not the mean (one disturbed round does not move it).
  assert.equal(pairedSpeedup([[1, 1, 1], [2, 3, 50]], 0, 1), 3);
  // Even count: the mean of the two middle ratios.
  assert.equal(pairedSpeedup([[1, 1, 1, 1], [1, 2, 4, 8]], 0, 1), 3);
  // A contender timed by one call (too slow to repeat) is compared best against best.
  assert.equal(pairedSpeedup([[0.5], [2, 1.5, 1]], 0, 1), 2);
});

test('pairedSpeedupInterval takes the order statistics that the binomial distribution gives', () => {
  // Ratios 1..15 (x always 1 s; y 1..15 s, shuffled across rounds): at 0.95 the 4th and the 12th
  // smallest, as P(Binomial(15, 1/2) <= 3) = 576 / 32768 and twice that is under 0.05, while
  // P(<= 4) = 1941 / 32768 is not.
  const y = [9, 3, 15, 1, 12, 7, 4, 14, 2, 11, 6, 13, 5, 10, 8];
  const x = y.map(() => 1);
  const wide = pairedSpeedupInterval([x, y], 0, 1)!;
  assert.deepEqual(wide, { low: 4, high: 12, coverage: 1 - 1152 / 32768 });
  assert.equal(pairedSpeedup([x, y], 0, 1), 8);
  // At 0.5: P(<= 5) = 4944 / 32768 doubled is 0.30, P(<= 6) = 9949 / 32768 doubled is 0.61: the
  // 6th and 10th.
  const narrow = pairedSpeedupInterval([x, y], 0, 1, 0.5)!;
  assert.deepEqual([narrow.low, narrow.high], [6, 10]);
  assert.ok(Math.abs(narrow.coverage - (1 - 9888 / 32768)) < 1e-12);
  // Five rounds cannot give 0.95: the extremes, which hold the median with chance 1 - 2/32.
  assert.deepEqual(pairedSpeedupInterval([[1, 1, 1, 1, 1], [3, 1, 5, 2, 4]], 0, 1), { low: 1, high: 5, coverage: 1 - 2 / 32 });
  // Not paired (a contender timed by one call): no interval.
  assert.equal(pairedSpeedupInterval([[0.5], [2, 1.5, 1]], 0, 1), null);
  // As the benches print it: the median, then the interval when there is one.
  assert.equal(pairedSpeedupText([x, y], 0, 1), '8.00 (4.00-12.00)');
  assert.equal(pairedSpeedupText([[0.5], [2, 1.5, 1]], 0, 1), '2.00');
});
