// The step's phase timer: timings add up per name, and the after-phase hook (the trainer's
// trimPool) runs as each phase ends, also one that throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Timer } from '../../src/trainer/timer.js';

test('Timer adds a phase timed twice and runs afterPhase at the end of every phase', async () => {
  const ended: string[] = [];
  let current = '';
  const timer = new Timer(null, () => ended.push(current));
  const phase = (name: string, ms: number) => timer.time(name, async () => {
    current = name;
    await new Promise((r) => setTimeout(r, ms));
    return name;
  });
  assert.equal(await phase('gen', 5), 'gen');
  await phase('gen', 5);
  await phase('update_actor', 1);
  await assert.rejects(timer.time('ref', async () => { current = 'ref'; throw new Error('boom'); }), /boom/);
  assert.deepEqual(ended, ['gen', 'gen', 'update_actor', 'ref']);
  assert.ok(timer.timing.gen! >= 0.009, `gen ${timer.timing.gen}`);
  assert.deepEqual(Object.keys(timer.timing).sort(), ['gen', 'ref', 'update_actor']);
});
