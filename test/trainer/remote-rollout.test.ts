// Remote rollouts end to end: GRPO on the Countdown demo config (shrunk) with rollout.name=sglang
// against two `tinyzero serve` processes on 127.0.0.1. Greedy, the run equals the local-rollout run
// (the servers load each step's weights before generating); a server killed after step 1 leaves the
// run to the other with a warning; all servers down stops the step with a clear error and the last
// checkpoint intact; an unreachable server is an error at start naming its URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import { readEventsJsonl, readMetricsJsonl } from '../../src/tracking/index.js';
import { train } from '../../src/trainer/index.js';
import { repoRoot } from '../helpers/assets.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

const model = join(repoRoot, 'assets/models/countdown-base');
const R = 'actor_rollout_ref.rollout';

function config(runDir: string, overrides: string[]) {
  process.chdir(repoRoot);
  return resolveConfig({
    file: join(repoRoot, 'examples/countdown-tiny.yaml'),
    overrides: [
      'trainer.total_training_steps=2', 'data.train_batch_size=4', `${R}.n=2`, 'actor_rollout_ref.actor.ppo_mini_batch_size=2',
      'actor_rollout_ref.actor.ppo_micro_batch_size=2', 'data.max_response_length=24', `${R}.do_sample=false`,
      // Greedy, a group's n responses are equal and GRPO's advantages 0: the entropy bonus and a large LR make step 1 move
      // the policy enough that step 2 generates otherwise (checked against a run with LR 0), so equality needs the push.
      'actor_rollout_ref.actor.entropy_coeff=0.05', 'actor_rollout_ref.actor.optim.lr=3e-2',
      'trainer.val_before_train=false', 'trainer.test_freq=-1', 'trainer.save_freq=1', 'trainer.max_actor_ckpt_to_keep=null',
      'trainer.threads=1', "trainer.logger=['jsonl']", `trainer.default_local_dir=${runDir}`, ...overrides,
    ],
  });
}

/** Every metric but the timings, per step. */
function metricsOf(runDir: string): Record<string, number>[] {
  return readMetricsJsonl(join(runDir, 'metrics.jsonl')).map((r) => Object.fromEntries(Object.entries(r.metrics).filter(([k]) => !k.startsWith('timing') && !k.startsWith('perf/'))));
}

function weightsOf(runDir: string, step: number): Buffer {
  return readFileSync(join(runDir, `global_step_${step}`, 'actor', 'model.safetensors'));
}

const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-remote-'));
const localDir = join(tmp, 'local');
const frozenDir = join(tmp, 'lr0');
let localRan = false;

/** The local-rollout run every remote run is compared with, and a run whose policy never moves (LR 0). */
async function localRun(): Promise<void> {
  if (localRan) return;
  await train(config(localDir, []), { progress: false, log: () => {} });
  await train(config(frozenDir, ['actor_rollout_ref.actor.optim.lr=0']), { progress: false, log: () => {} });
  localRan = true;
}

/** The sampled responses a run logged for `step`. */
function samplesOf(runDir: string, step: number): string[] {
  return readEventsJsonl(join(runDir, 'events.jsonl')).filter((e) => e.kind === 'samples' && e.step === step)
    .flatMap((e) => (e.samples as { response: string }[]).map((x) => x.response));
}

/** Step 2 generates otherwise than the unchanged policy would: a server that missed the update could not match. */
function assertStep2Moved(runDir: string): void {
  assert.deepEqual(samplesOf(runDir, 1), samplesOf(frozenDir, 1));
  const [moved, frozen] = [metricsOf(runDir)[1]!, metricsOf(frozenDir)[1]!];
  assert.notDeepEqual([samplesOf(runDir, 2), moved['response_length/mean']], [samplesOf(frozenDir, 2), frozen['response_length/mean']]);
}

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('greedy GRPO with rollout.name=sglang on two tinyzero serve processes trains exactly as the local rollout does', { timeout: 300_000 }, async () => {
  await localRun();
  const servers = await Promise.all([startServeProcess(model), startServeProcess(model)]);
  try {
    const runDir = join(tmp, 'remote');
    const lines: string[] = [];
    const summary = await train(config(runDir, [`${R}.name=sglang`, `${R}.server_urls=[${servers.map((s) => s.url).join(',')}]`]), { progress: false, log: (l) => lines.push(l) });
    assert.equal(summary.lastStep, 2);
    assert.ok(lines.some((l) => l.startsWith('rollout: 2 sglang servers')), lines.join('\n'));
    assert.ok(!lines.some((l) => l.startsWith('warning: rollout server')), lines.join('\n'));
    // Same responses, so the same rewards, log-probs, losses and updates: every metric and the weights.
    const remote = metricsOf(runDir);
    assert.deepEqual(remote, metricsOf(localDir));
    assertStep2Moved(runDir);
    assert.deepEqual(samplesOf(runDir, 2), samplesOf(localDir, 2));
    assert.ok(remote[0]!['critic/score/mean'] !== undefined && remote[0]!['response_length/mean']! > 0);
    assert.ok(weightsOf(runDir, 2).equals(weightsOf(localDir, 2)), 'step-2 actor weights equal the local run\'s');
    // Each server generated and loaded the weights of both steps; only the newest weights folder is kept.
    for (const s of servers) assert.match(s.output(), /weights updated from .*rollout_weights\/step_2/);
    assert.deepEqual(readdirSync(join(runDir, 'rollout_weights')), ['step_2']);
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
});

test('with LoRA, rollout.name=vllm pushes each step\'s adapter with /v1/load_lora_adapter and trains exactly as the local rollout does', { timeout: 300_000 }, async () => {
  await localRun();
  const lora = ['actor_rollout_ref.model.lora_rank=4', 'actor_rollout_ref.model.lora_alpha=8', 'actor_rollout_ref.actor.optim.lr=1e-1'];
  const localLora = join(tmp, 'local-lora');
  await train(config(localLora, lora), { progress: false, log: () => {} });
  assertStep2Moved(localLora);
  const servers = await Promise.all([startServeProcess(model), startServeProcess(model)]);
  try {
    const runDir = join(tmp, 'remote-lora');
    await train(config(runDir, [...lora, `${R}.name=vllm`, `${R}.server_urls=[${servers.map((s) => s.url).join(',')}]`]), { progress: false, log: () => {} });
    assert.deepEqual(metricsOf(runDir), metricsOf(localLora));
    assert.deepEqual(samplesOf(runDir, 2), samplesOf(localLora, 2));
    for (const s of servers) {
      assert.match(s.output(), /LoRA adapter 'tinyzero-step-2' loaded from .*rollout_weights\/step_2/);
      // The previous step's adapter was unloaded once the new one served.
      assert.match(s.output(), /LoRA adapter 'tinyzero-step-1' unloaded/);
    }
    assert.deepEqual(readdirSync(join(runDir, 'rollout_weights', 'step_2')).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
});

test('a server killed after step 1 leaves the run to the other, with a warning naming it', { timeout: 300_000 }, async () => {
  await localRun();
  const servers = await Promise.all([startServeProcess(model), startServeProcess(model)]);
  try {
    const runDir = join(tmp, 'failover');
    const lines: string[] = [];
    const log = (line: string): void => {
      lines.push(line);
      if (line.includes('sample (step 1,')) void servers[1]!.kill();
    };
    const summary = await train(config(runDir, [`${R}.name=sglang`, `${R}.server_urls=[${servers.map((s) => s.url).join(',')}]`]), { progress: false, log });
    assert.equal(summary.lastStep, 2);
    const warnings = lines.filter((l) => l.startsWith('warning: rollout server'));
    assert.equal(warnings.length, 1, lines.join('\n'));
    assert.ok(warnings[0]!.includes(`rollout server ${servers[1]!.url} failed`) && warnings[0]!.includes(`other 1 server (${servers[0]!.url})`), warnings[0]);
    assert.deepEqual(metricsOf(runDir), metricsOf(localDir));
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
});

test('every server down stops the step with an error naming them, and the last checkpoint stays intact', { timeout: 300_000 }, async () => {
  const server = await startServeProcess(model);
  try {
    const runDir = join(tmp, 'all-down');
    const log = (line: string): void => {
      if (line.includes('sample (step 1,')) void server.kill();
    };
    await assert.rejects(train(config(runDir, [`${R}.name=sglang`, `${R}.server_urls=[${server.url}]`]), { progress: false, log }),
      (e: Error) => /every rollout server failed/.test(e.message) && e.message.includes(server.url));
    assert.ok(existsSync(join(runDir, 'global_step_1', 'trainer_state.json')));
    assert.ok(!existsSync(join(runDir, 'global_step_2')));
    assert.deepEqual(readMetricsJsonl(join(runDir, 'metrics.jsonl')).map((r) => r.step), [1]);
  } finally {
    await server.kill();
  }
});

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('an unreachable server is an error at start naming its URL, before any step', { timeout: 60_000 }, async () => {
  const runDir = join(tmp, 'unreachable');
  const url = `http://127.0.0.1:${await closedPort()}`;
  await assert.rejects(train(config(runDir, [`${R}.name=sglang`, `${R}.server_urls=[${url}]`]), { progress: false, log: () => {} }),
    (e: Error) => e.message === `rollout server ${url} (actor_rollout_ref.rollout.server_urls) is not usable: GET /health failed: ECONNREFUSED`);
  assert.ok(!existsSync(join(runDir, 'global_step_1')));
});
