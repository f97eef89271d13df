// The remote-rollout keys: rollout.name and server_urls agree, URLs parse, and the servers' kind
// can load the weights the run trains (docs/distributed.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, resolveConfig, type ConfigProblem } from '../../src/config/index.js';
import { usesRemoteRollout } from '../../src/config/derived.js';

const R = 'actor_rollout_ref.rollout';

function problems(overrides: string[]): readonly ConfigProblem[] {
  try {
    resolveConfig({ overrides });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  return [];
}

test('defaults: no servers, the built-in generator, for every rollout name but sglang', () => {
  const c = resolveConfig({});
  assert.deepEqual(c.actor_rollout_ref.rollout.server_urls, []);
  assert.equal(c.actor_rollout_ref.rollout.server_api_key_env, null);
  assert.equal(usesRemoteRollout(c), false);
  assert.equal(usesRemoteRollout(resolveConfig({ overrides: [`${R}.name=hf`] })), false);
});

test('sglang with server URLs and vllm with LoRA and server URLs generate remotely', () => {
  const sglang = resolveConfig({ overrides: [`${R}.name=sglang`, `${R}.server_urls=[http://127.0.0.1:30000,http://10.0.0.2:30000/]`] });
  assert.equal(usesRemoteRollout(sglang), true);
  const vllm = resolveConfig({ overrides: [`${R}.server_urls=[http://127.0.0.1:8000]`, 'actor_rollout_ref.model.lora_rank=8'] });
  assert.equal(usesRemoteRollout(vllm), true);
});

test('mismatched names, bad URLs and weights the servers cannot load are errors naming the key and value', () => {
  const only = (overrides: string[]): ConfigProblem => {
    const found = problems(overrides);
    assert.equal(found.length, 1, JSON.stringify(found));
    return found[0]!;
  };
  let p = only([`${R}.name=sglang`]);
  assert.equal(p.key, `${R}.name`);
  assert.match(p.message, /set actor_rollout_ref\.rollout\.server_urls=/);
  p = only([`${R}.name=hf`, `${R}.server_urls=[http://127.0.0.1:1]`]);
  assert.equal(p.key, `${R}.server_urls`);
  assert.match(p.message, /built-in generator/);
  p = only([`${R}.name=sglang`, `${R}.server_urls=[localhost:30000]`]);
  assert.equal(p.value, 'localhost:30000');
  assert.match(p.message, /http:\/\//);
  p = only([`${R}.name=sglang`, `${R}.server_urls=[http://a:1,http://a:1/]`]);
  assert.match(p.message, /listed twice/);
  p = only([`${R}.server_urls=[http://127.0.0.1:8000]`]);
  assert.equal(p.key, `${R}.name`);
  assert.match(p.message, /vLLM's OpenAI server has no endpoint that reloads full weights/);
  p = only([`${R}.name=sglang`, `${R}.server_urls=[http://127.0.0.1:8000]`, 'actor_rollout_ref.model.lora_rank=8']);
  assert.match(p.message, /with LoRA use actor_rollout_ref\.rollout\.name=vllm/);
});
