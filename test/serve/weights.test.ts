// Weight updates as a trainer pushes them: SGLang's update_weights_from_disk (a changed copy of the
// bundled model), vLLM's load/unload_lora_adapter (a PEFT folder), with the weight version and with
// requests in flight finishing on the weights they started with.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { loadCausalLM } from '../../src/models/load.js';
import { LoraModel, loadLora } from '../../src/models/lora.js';
import { readSafetensors, rawToFloat32 } from '../../src/models/safetensors.js';
import { writeSafetensors, type WritableTensor } from '../../src/models/safetensors-write.js';
import { setBackend } from '../../src/tensor/index.js';
import { Prng } from '../../src/util/prng.js';
import { baseModelDir, choiceIds, post, referenceRows, startFixture, type Fixture } from './fixture.js';

const promptText = 'Using the numbers [3, 5, 7], create an equation that equals 22.';

/** A copy of the bundled model with the final norm's weights scaled and shifted: same shapes, other outputs. */
function changedCopy(dir: string): void {
  for (const name of readdirSync(baseModelDir)) copyFileSync(join(baseModelDir, name), join(dir, name));
  const file = join(dir, 'model.safetensors');
  const { tensors } = readSafetensors(file);
  const out = new Map<string, WritableTensor>(tensors);
  const norm = rawToFloat32(tensors.get('model.norm.weight')!);
  out.set('model.norm.weight', { shape: [norm.length], data: norm.map((v, i) => v * (i % 2 ? 3 : -2)) });
  writeSafetensors(file, out);
}

/** A PEFT adapter for q_proj/v_proj with non-zero B, saved into dir. */
async function adapterFolder(dir: string): Promise<void> {
  const model = loadCausalLM(baseModelDir);
  const lora = new LoraModel(model, { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] }, 1);
  const rng = new Prng(3);
  for (const a of lora.adapters.values()) {
    const w = a.lora_B.weight;
    w.backend.write(w.buffer, Float32Array.from({ length: w.size }, () => (rng.uniform() - 0.5) * 2), w.offset);
  }
  await lora.save(dir);
  lora.dispose();
  model.dispose();
}

describe('tinyzero serve weight updates', () => {
  let f: Fixture;
  let tmp: string;
  before(async () => {
    f = await startFixture();
    tmp = mkdtempSync(join(tmpdir(), 'tinyzero-serve-'));
  });
  after(async () => {
    await f.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const greedy = (model = 'countdown-base', maxTokens = 16) => f.client.completions.create({ model, prompt: promptText, max_tokens: maxTokens, temperature: 0, logprobs: 1, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });
  const version = async (): Promise<number> => ((await (await fetch(`${f.server.url}/health`)).json()) as { weight_version: number }).weight_version;

  test('update_weights_from_disk: new requests use the new weights, the one in flight finishes on the old; a bad path changes nothing', async () => {
    const changed = join(tmp, 'changed');
    mkdirSync(changed);
    changedCopy(changed);
    const before0 = await greedy();
    const v0 = await version();

    // A long request is generating while the update arrives.
    let settled = false;
    const inFlight = greedy('countdown-base', 120).finally(() => { settled = true; });
    while (!f.server.stats.running && !settled) await new Promise((r) => setTimeout(r, 1));
    assert.ok(!settled, 'the update arrives while the long request generates');
    const update = await post(`${f.server.url}/update_weights_from_disk`, JSON.stringify({ model_path: changed }));
    assert.equal(update.status, 200, update.text);
    assert.equal(update.json.success, true);
    assert.equal(update.json.weight_version, v0 + 1);
    const old = await inFlight;
    assert.equal((old as unknown as { weight_version: number }).weight_version, v0);
    assert.deepEqual(choiceIds(old.choices[0]!.logprobs?.tokens).slice(0, 16), choiceIds(before0.choices[0]!.logprobs?.tokens), 'the request in flight kept the old weights');

    const after0 = await greedy();
    assert.equal((after0 as unknown as { weight_version: number }).weight_version, v0 + 1);
    const ids = f.tokenizer.encode(promptText, { addSpecialTokens: false });
    const reference = loadCausalLM(changed, { frozen: true });
    try {
      const want = await referenceRows({ ...f, reference }, ids, { maxNewTokens: 16, temperature: 0, ignoreEos: true });
      assert.deepEqual(choiceIds(after0.choices[0]!.logprobs?.tokens), want[0]!.ids, 'answers come from the new weights');
    } finally {
      reference.dispose();
    }
    assert.notDeepEqual(after0.choices[0]!.logprobs?.token_logprobs, before0.choices[0]!.logprobs?.token_logprobs);

    const bad = await post(`${f.server.url}/update_weights_from_disk`, JSON.stringify({ model_path: join(tmp, 'missing') }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.success, false);
    assert.match(bad.json.message, /missing/);
    assert.equal(await version(), v0 + 1);
    assert.deepEqual((await greedy()).choices[0]!.text, after0.choices[0]!.text, 'a failed update leaves the weights');

    const back = await post(`${f.server.url}/update_weights_from_disk`, JSON.stringify({ model_path: baseModelDir }));
    assert.equal(back.json.success, true);
    assert.equal((await greedy()).choices[0]!.text, before0.choices[0]!.text);
    const info = await (await fetch(`${f.server.url}/get_model_info`)).json() as { model_path: string; weight_version: number };
    assert.equal(info.model_path, baseModelDir);
    assert.equal(info.weight_version, v0 + 2);
  });

  test('load_lora_adapter serves the adapter as its own model id, as generate with --lora; unload removes it', async () => {
    const dir = join(tmp, 'adapter');
    await adapterFolder(dir);
    const v0 = await version();
    const load = await post(`${f.server.url}/v1/load_lora_adapter`, JSON.stringify({ lora_name: 'step-1', lora_path: dir }));
    assert.equal(load.status, 200, load.text);
    assert.match(load.text, /Success/);
    assert.equal(await version(), v0 + 1);
    const models = await f.client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['countdown-base', 'step-1']);

    const [base, adapted] = await Promise.all([greedy(), greedy('step-1')]);
    const ids = f.tokenizer.encode(promptText, { addSpecialTokens: false });
    const reference = loadCausalLM(baseModelDir, { frozen: true });
    const lora = loadLora(reference, dir);
    try {
      const want = await referenceRows({ ...f, reference }, ids, { maxNewTokens: 16, temperature: 0, ignoreEos: true });
      assert.deepEqual(choiceIds(adapted.choices[0]!.logprobs?.tokens), want[0]!.ids);
      assert.ok(adapted.choices[0]!.logprobs!.token_logprobs!.every((v, t) => Math.abs(v - want[0]!.logprobs[t]!) < 1e-5));
    } finally {
      lora.dispose();
      reference.dispose();
    }
    assert.notDeepEqual(adapted.choices[0]!.logprobs?.token_logprobs, base.choices[0]!.logprobs?.token_logprobs, 'the adapter changes the answer');
    assert.equal((await greedy()).choices[0]!.text, base.choices[0]!.text, 'the base model is unchanged beside it');

    const again = await post(`${f.server.url}/v1/load_lora_adapter`, JSON.stringify({ lora_name: 'step-1', lora_path: dir }));
    assert.equal(again.status, 400);
    const inplace = await post(`${f.server.url}/v1/load_lora_adapter`, JSON.stringify({ lora_name: 'step-1', lora_path: dir, load_inplace: true }));
    assert.equal(inplace.status, 200, inplace.text);
    assert.equal((await greedy('step-1')).choices[0]!.text, adapted.choices[0]!.text, 'replaced by the same folder: the same answer');
    const wrong = await post(`${f.server.url}/v1/load_lora_adapter`, JSON.stringify({ lora_name: 'x', lora_path: join(tmp, 'nope') }));
    assert.equal(wrong.status, 400);
    assert.match(wrong.json.error.message, /adapter_config\.json/);

    const unload = await post(`${f.server.url}/v1/unload_lora_adapter`, JSON.stringify({ lora_name: 'step-1' }));
    assert.equal(unload.status, 200, unload.text);
    const gone = await post(`${f.server.url}/v1/completions`, JSON.stringify({ model: 'step-1', prompt: '1' }));
    assert.equal(gone.status, 404);
    assert.equal(await version(), v0 + 3);
  });
});

test('--lora serves the base model with the adapter applied, as generate --lora, and keeps it across a weight update', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tinyzero-serve-lora-'));
  let f: Fixture | null = null;
  try {
    const dir = join(tmp, 'adapter');
    // The adapter is made before the server's backend exists.
    setBackend(new ReferenceBackend());
    await adapterFolder(dir);
    f = await startFixture({ loraDir: dir });
    const ids = f.tokenizer.encode(promptText, { addSpecialTokens: false });
    const ask = () => f!.client.completions.create({ model: 'countdown-base', prompt: ids, max_tokens: 12, temperature: 0, logprobs: 1, ...{ return_tokens_as_token_ids: true, ignore_eos: true } });
    const reference = loadCausalLM(baseModelDir, { frozen: true });
    const lora = loadLora(reference, dir);
    try {
      const want = await referenceRows({ ...f, reference }, ids, { maxNewTokens: 12, temperature: 0, ignoreEos: true });
      const plain = await referenceRows(f, ids, { maxNewTokens: 12, temperature: 0, ignoreEos: true });
      const got = await ask();
      assert.deepEqual(choiceIds(got.choices[0]!.logprobs?.tokens), want[0]!.ids);
      assert.notDeepEqual(want[0]!.logprobs, plain[0]!.logprobs, 'the adapter matters');
      const update = await post(`${f.server.url}/update_weights_from_disk`, JSON.stringify({ model_path: baseModelDir }));
      assert.equal(update.json.success, true, update.text);
      assert.deepEqual((await ask()).choices[0]!.logprobs?.token_logprobs, got.choices[0]!.logprobs?.token_logprobs, 'the adapter is applied to the new base too');
    } finally {
      lora.dispose();
      reference.dispose();
    }
  } finally {
    await f?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
