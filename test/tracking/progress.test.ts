import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConsoleTracker, ProgressDisplay, RateWindow, estimateEtaSeconds, fitToWidth, formatDuration, formatProgress, formatRate,
} from '../../src/tracking/index.js';

class FakeTerminal {
  writes: string[] = [];
  constructor(readonly isTTY: boolean, readonly columns = 200) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
}

test('formatDuration picks two units and rounds down', () => {
  const cases: [number, string][] = [[0, '0s'], [59.9, '59s'], [60, '1m00s'], [185, '3m05s'], [3600, '1h00m'], [7385, '2h03m'], [86400 + 4 * 3600 + 59, '1d04h'], [NaN, '--'], [-1, '--'], [Infinity, '--']];
  for (const [s, want] of cases) assert.equal(formatDuration(s), want, `${s}s`);
});

test('formatRate keeps three significant digits with k/M/G suffixes', () => {
  const cases: [number, string][] = [[0, '0.00'], [8.74, '8.74'], [87.44, '87.4'], [874.4, '874'], [1234, '1.23k'], [999.9, '1.00k'], [45_600_000, '45.6M'], [NaN, '--']];
  for (const [r, want] of cases) assert.equal(formatRate(r), want, String(r));
});

test('estimateEtaSeconds uses the mean finished-step time of this session', () => {
  assert.ok(Number.isNaN(estimateEtaSeconds({ doneSteps: 0, totalSteps: 10, finishedInSession: 0, sessionStepSeconds: 0, currentStepElapsed: 5 })));
  // Resumed at step 51 of 100, 2 steps done here in 20 s: 50 left × 10 s, minus 4 s into step 53.
  assert.equal(estimateEtaSeconds({ doneSteps: 52, totalSteps: 100, finishedInSession: 2, sessionStepSeconds: 20, currentStepElapsed: 4 }), 476);
  assert.equal(estimateEtaSeconds({ doneSteps: 100, totalSteps: 100, finishedInSession: 100, sessionStepSeconds: 9, currentStepElapsed: 0 }), 0);
  assert.equal(estimateEtaSeconds({ doneSteps: 9, totalSteps: 10, finishedInSession: 9, sessionStepSeconds: 9, currentStepElapsed: 30 }), 0);
});

test('RateWindow measures tokens per second over its window only', () => {
  const w = new RateWindow(10);
  w.add(0, 0);
  assert.ok(Number.isNaN(w.rate()));
  w.add(100, 1);
  assert.equal(w.rate(), 100);
  for (let t = 2; t <= 30; t++) w.add(t < 20 ? 100 : 1000, t);
  // Samples older than the window are dropped (one is kept to span it): 10 s of 1000 tok/s, plus one 1000 at t=20.
  assert.ok(Math.abs(w.rate() - 1000) < 1e-9, String(w.rate()));
});

test('formatProgress and fitToWidth', () => {
  const text = formatProgress({ step: 12, totalSteps: 200, phase: 'gen', tokensPerSecond: 1234, elapsedSeconds: 250, etaSeconds: 3900 });
  assert.equal(text, 'step 12/200 (5%) | gen | 1.23k tok/s | elapsed 4m10s | eta 1h05m');
  assert.equal(fitToWidth(text, 20), 'step 12/200 (5%) |…');
  assert.equal(fitToWidth(text, undefined), text);
});

test('on a TTY the console line is printed between clearing and redrawing the status line', () => {
  let clock = 0;
  const term = new FakeTerminal(true);
  const progress = new ProgressDisplay({ totalSteps: 10, stream: term, now: () => clock, timers: false });
  const console = new ConsoleTracker({ out: term, statusLine: progress });
  progress.startStep(1);
  progress.phase('gen');
  assert.equal(term.writes.length, 1);
  assert.match(term.writes[0]!, /^\r\x1b\[2Kstep 1\/10 \(0%\) \| gen \|/);
  assert.ok(!term.writes[0]!.includes('\n'), 'the status line never ends a line');
  clock = 2000;
  progress.endStep(1);
  term.writes = [];
  console.log({ 'critic/score/mean': 1 }, 1);
  assert.deepEqual(term.writes.slice(0, 2), ['\r\x1b[2K', 'step:1 - critic/score/mean:1.000\n']);
  assert.match(term.writes[2]!, /^\r\x1b\[2Kstep 1\/10 \(0%\) \| done \| .* \| elapsed 2s \| eta 18s$/);
  progress.close();
  assert.equal(term.writes.at(-1), '\r\x1b[2K');
});

test('off a TTY progress lines are plain, prefixed, and at most one per interval', () => {
  let clock = 0;
  const out = new FakeTerminal(false);
  const progress = new ProgressDisplay({ totalSteps: 3, stream: out, now: () => clock, timers: false, plainIntervalMs: 10_000 });
  progress.startStep(1);
  progress.phase('gen');
  clock = 3000;
  progress.phase('adv');
  progress.addTokens(100);
  clock = 9999;
  progress.endStep(1);
  assert.equal(out.writes.length, 1);
  clock = 10_000;
  progress.startStep(2);
  progress.phase('gen');
  assert.equal(out.writes.length, 2);
  // Step 1 took 9.999 s; 2 steps left at that pace, 1 ms of step 2 already spent.
  assert.equal(out.writes[1], '[progress] step 2/3 (33%) | gen | -- tok/s | elapsed 10s | eta 19s\n');
  // Console lines are not wrapped in clear/redraw codes off a TTY.
  const sink = new FakeTerminal(false);
  new ConsoleTracker({ out: sink, statusLine: progress }).log({ x: 1 }, 2);
  assert.deepEqual(sink.writes, ['step:2 - x:1.000\n']);
  progress.close();
});

test("mode 'off' writes nothing", () => {
  const out = new FakeTerminal(true);
  const progress = new ProgressDisplay({ totalSteps: 3, stream: out, mode: 'off' });
  progress.startStep(1);
  progress.phase('gen');
  progress.endStep(1);
  progress.close();
  assert.deepEqual(out.writes, []);
});
