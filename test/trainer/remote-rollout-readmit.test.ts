// A dropped rollout server comes back: killed, its requests go to the other server with a warning;
// restarted on the same port, the next weight sync finds it by its health check, loads the current
// weights onto it and re-admits it with a log line, and it takes requests again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../src/backend/index.js';
import { resolveConfig } from '../../src/config/index.js';
import { loadCausalLM } from '../../src/models/load.js';
import { setBackend } from '../../src/tensor/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import type { PromptRow, RolloutOptions } from '../../src/trainer/index.js';
import { RemoteRollout } from '../../src/trainer/remote-rollout.js';
import { repoRoot } from '../helpers/assets.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.js';

const model = join(repoRoot, 'assets/models/countdown-base');
const R = 'actor_rollout_ref.rollout';

test('a killed server is dropped with a warning, and re-admitted once it answers again, with the current weights', { timeout: 300_000 }, async () => {
  const backend = await createBackend('cpu', { threads: 1 });
  setBackend(backend);
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-readmit-'));
  const servers: ServeProcess[] = await Promise.all([startServeProcess(model), startServeProcess(model)]);
  const actor = { model: loadCausalLM(model) };
  try {
    process.chdir(repoRoot);
    const config = resolveConfig({
      file: join(repoRoot, 'examples/countdown-tiny.yaml'),
      overrides: [`${R}.name=sglang`, `${R}.server_urls=[${servers.map((s) => s.url).join(',')}]`, `${R}.server_concurrency=1`, `trainer.default_local_dir=${tmp}`],
    });
    const lines: string[] = [];
    const remote = await RemoteRollout.connect(config, { log: (l) => lines.push(l), runDir: tmp });
    const tokenizer = loadTokenizer(model);
    const prompts: PromptRow[] = ['3+4=', 'Using the numbers [2, 9, 4]', '12-5=', '<think>'].map((text, index) => ({
      ids: tokenizer.encode(text, { addSpecialTokens: false }), text, dataSource: 'countdown', groundTruth: null, index,
    }));
    const options: RolloutOptions = {
      n: 2, temperature: 0, topK: -1, topP: 1, promptLength: 16, responseLength: 8, eosTokenIds: [tokenizer.eosTokenId],
      padTokenId: tokenizer.padTokenId, ignoreEos: false, chunk: null, seed: 0,
    };
    const completed = async (s: ServeProcess): Promise<number> => ((await (await fetch(`${s.url}/health`)).json()) as { completed_requests: number }).completed_requests;

    await remote.syncWeights(1, actor, model);
    const first = await remote.rollout(prompts, options);
    assert.ok(await completed(servers[1]!) > 0, 'both servers took requests');

    await servers[1]!.kill();
    const second = await remote.rollout(prompts, options);
    const warnings = lines.filter((l) => l.startsWith('warning: rollout server'));
    assert.equal(warnings.length, 1, lines.join('\n'));
    assert.ok(warnings[0]!.includes(`rollout server ${servers[1]!.url} failed`) && warnings[0]!.includes('until it answers its health check again'), warnings[0]);
    assert.deepEqual(second.responses, first.responses, 'the other server answered its requests');
    assert.equal(remote.pool.live.length, 1);

    // Down at the next sync: probed, still dropped, no new line.
    await remote.syncWeights(2, actor, model);
    assert.equal(remote.pool.live.length, 1);
    assert.equal(lines.filter((l) => l.includes('re-admitted')).length, 0);

    // Restarted on the same port. The failed probe backs off for one sync, the next one re-admits it.
    servers[1] = await startServeProcess(model, ['--port', new URL(servers[1]!.url).port]);
    await remote.syncWeights(3, actor, model);
    assert.equal(remote.pool.live.length, 1, 'backing off after the failed probe');
    await remote.syncWeights(4, actor, model);
    const back = lines.filter((l) => l.includes('re-admitted'));
    assert.equal(back.length, 1, lines.join('\n'));
    assert.match(back[0]!, new RegExp(`^rollout server ${servers[1]!.url} answers its health check again .*re-admitted \\(2 servers live`));
    assert.equal(remote.pool.live.length, 2);
    assert.match(servers[1]!.output(), /weights updated from .*rollout_weights\/step_4/);

    const third = await remote.rollout(prompts, options);
    assert.deepEqual(third.responses, first.responses);
    assert.ok(await completed(servers[1]!) > 0, 'the re-admitted server took requests');
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
    actor.model.dispose();
    backend.destroy();
    rmSync(tmp, { recursive: true, force: true });
  }
});
