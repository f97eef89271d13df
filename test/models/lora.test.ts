// LoRA (nn/lora.ts, models/lora.ts): forward equals the merged model, gradients against finite
// differences and across backends, PEFT files round-trip, merge-lora and generate --lora as a user
// runs them, and bad input refused with nothing written.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/index.js';
import { ReferenceBackend } from '../../src/backend/reference/index.js';
import { Linear, LoraAdapter, LoraSwitch } from '../../src/nn/index.js';
import { Prng } from '../../src/util/prng.js';
import { loadCausalLM } from '../../src/models/load.js';
import { loadLora, LoraModel, mergeLora, readSafetensors } from '../../src/models/index.js';
import type { CausalLM } from '../../src/models/llama.js';
import * as T from '../../src/tensor/index.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { tinyLlamaDir } from '../helpers/assets.js';
import { relError } from '../backend/cpu-harness.js';

const main = new URL('../../src/cli/main.js', import.meta.url).pathname;
const ids = [1, 5, 9, 15, 12, 3, 4, 10, 7];
let tmp: string;
let cpu: CpuBackend;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tinyzero-lora-'));
  cpu = await CpuBackend.create({ threads: 2 });
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
  cpu.destroy();
});

/** Gives every adapter a non-zero B (a fresh adapter is the identity), deterministically. */
function randomizeB(lora: LoraModel, seed: number): void {
  const rng = new Prng(seed);
  for (const a of lora.adapters.values()) {
    const b = a.lora_B.weight;
    b.backend.write(b.buffer, Float32Array.from({ length: b.size }, () => (rng.uniform() - 0.5) * 0.2), b.offset);
  }
}

async function logits(model: CausalLM): Promise<Float32Array> {
  const out = T.tidy(() => T.noGrad(() => model.forward(T.tensor(Int32Array.from(ids), [1, ids.length]), {
    positions: T.tensor(Int32Array.from(ids, (_, i) => i), [1, ids.length]),
  })));
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}

function withBackend<R>(be: Backend, fn: () => Promise<R>): Promise<R> {
  T.setBackend(be);
  return fn();
}

test('a fresh adapter leaves the model unchanged; with B != 0 the forward equals the merged model; the switch gives the base back', async () => {
  await withBackend(cpu, async () => {
    const model = loadCausalLM(tinyLlamaDir, { backend: cpu });
    const base = await logits(model);
    const lora = new LoraModel(model, { rank: 4, alpha: 8, targetModules: 'all-linear' }, 3);
    assert.equal(lora.adapters.size, 4 * 7, 'seven projections in each of 4 layers; lm_head left out');
    assert.ok(model.parameters().every((p) => !p.requiresGrad), 'the base is frozen');
    assert.deepEqual(await logits(model), base, 'B = 0 at the start');
    randomizeB(lora, 5);
    const adapted = await logits(model);
    assert.ok(relError(adapted, base) > 1e-3, 'the adapters change the output');
    assert.deepEqual(await lora.switch.withoutAdaptersAsync(() => logits(model)), base, 'switch off: the base');
    await mergeLora(lora);
    assert.equal(lora.adapters.size, 0);
    const merged = await logits(model);
    const err = relError(merged, adapted);
    assert.ok(err < 2e-6, `merged vs base + adapters: ${err.toExponential(2)}`);
    model.dispose();
  });
});

test('LoRA gradients: A, B and the input against finite differences (float64 reference backend)', () => {
  const sw = new LoraSwitch();
  gradCheck([{ shape: [2, 3, 5] }, { shape: [4, 5] }, { shape: [6, 4] }, { shape: [6, 5], noGrad: true }, { shape: [6], noGrad: true }],
    (x, a, b, w, bias) => {
      const lin = Object.create(Linear.prototype) as Linear;
      Object.assign(lin, { weight: w, bias, inFeatures: 5, outFeatures: 6, adapter: null });
      const adapter = Object.create(LoraAdapter.prototype) as LoraAdapter;
      Object.assign(adapter, { lora_A: { weight: a }, lora_B: { weight: b }, scaling: 2.5, switch_: sw });
      lin.adapter = adapter;
      return lin.forward(x!);
    }, { tol: 1e-6 });
});

test('LoRA training gradients agree between the CPU and reference backends (tiny-llama, rank 4, q/v only)', async () => {
  const grads = async (be: Backend): Promise<Map<string, Float32Array>> => withBackend(be, async () => {
    const model = loadCausalLM(tinyLlamaDir, { backend: be });
    const lora = new LoraModel(model, { rank: 4, alpha: 16, targetModules: ['q_proj', 'v_proj'] }, 11);
    randomizeB(lora, 12);
    T.tidy(() => {
      const out = model.forward(T.tensor(Int32Array.from(ids), [1, ids.length]), { positions: T.tensor(Int32Array.from(ids, (_, i) => i), [1, ids.length]) });
      const lp = T.logSoftmax(out);
      T.mean(lp).backward();
    });
    const res = new Map<string, Float32Array>();
    for (const [name, p] of lora.namedParameters()) {
      assert.ok(p.grad, `${name} has a gradient`);
      res.set(name, (await p.grad.data()) as Float32Array);
    }
    assert.ok(model.parameters().every((p) => p.grad === null), 'no gradient for the frozen base');
    lora.dispose();
    model.dispose();
    return res;
  });
  const ref = await grads(new ReferenceBackend());
  const got = await grads(cpu);
  assert.equal(got.size, 4 * 2 * 2);
  for (const [name, g] of ref) {
    const err = relError(got.get(name)!, g);
    assert.ok(err < 1e-4, `${name}: ${err.toExponential(2)}`);
  }
});

test('PEFT files: names and config as PEFT writes them, exact round trip, merge-lora equals base + adapters, generate --lora', async () => {
  const dir = join(tmp, 'adapter');
  await withBackend(cpu, async () => {
    const model = loadCausalLM(tinyLlamaDir, { backend: cpu });
    const lora = new LoraModel(model, { rank: 2, alpha: 4, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 1);
    randomizeB(lora, 2);
    await lora.save(dir, 'tiny-llama');
    const want = await logits(model);
    lora.dispose();
    model.dispose();
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.peft_type, 'LORA');
    assert.equal(config.r, 2);
    assert.equal(config.lora_alpha, 4);
    assert.deepEqual(config.target_modules, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    const { tensors } = readSafetensors(join(dir, 'adapter_model.safetensors'));
    const a0 = tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    assert.ok(a0, [...tensors.keys()].slice(0, 3).join(', '));
    assert.deepEqual(a0.shape, [2, 128]);
    assert.equal(a0.dtype, 'F32');
    assert.deepEqual(tensors.get('base_model.model.model.layers.3.mlp.down_proj.lora_B.weight')?.shape, [128, 2]);

    // Loaded onto a fresh base: the same model, exactly.
    const again = loadCausalLM(tinyLlamaDir, { backend: cpu });
    const loaded = loadLora(again, dir);
    assert.deepEqual(await logits(again), want);
    loaded.dispose();
    again.dispose();

    // merge-lora writes a full folder (F32 so the comparison is on the merge, not on BF16 rounding).
    const out = join(tmp, 'merged');
    const r = spawnSync(process.execPath, [main, 'merge-lora', '--model', tinyLlamaDir, '--lora', dir, '--out', out, '--dtype', 'F32'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(out, 'config.json')) && existsSync(join(out, 'model.safetensors')) && existsSync(join(out, 'tokenizer_config.json')));
    const merged = loadCausalLM(out, { backend: cpu });
    const err = relError(await logits(merged), want);
    merged.dispose();
    assert.ok(err < 2e-6, `merged folder vs base + adapters: ${err.toExponential(2)}`);

    // generate --lora samples from base + adapters: greedy output equals the merged folder's.
    const gen = (args: string[]): string => {
      const g = spawnSync(process.execPath, [main, 'generate', ...args, '--prompt-ids', '1,5,9', '--max-new-tokens', '8', '--temperature', '0', '--json', '--logprobs'], { encoding: 'utf8' });
      assert.equal(g.status, 0, g.stderr);
      return g.stdout;
    };
    const withLora = JSON.parse(gen(['--model', tinyLlamaDir, '--lora', dir])) as { token_ids: number[]; logprobs: number[] };
    const fromMerged = JSON.parse(gen(['--model', out])) as { token_ids: number[]; logprobs: number[] };
    assert.deepEqual(withLora.token_ids, fromMerged.token_ids);
    withLora.logprobs.forEach((v, i) => assert.ok(Math.abs(v - fromMerged.logprobs[i]!) < 1e-4, `logprob ${i}: ${v} vs ${fromMerged.logprobs[i]}`));
  });
});

test('bad LoRA input: one clear line each, nothing written', async () => {
  await withBackend(cpu, async () => {
    const model = loadCausalLM(tinyLlamaDir, { backend: cpu });
    assert.throws(() => new LoraModel(model, { rank: -1, alpha: 8, targetModules: 'all-linear' }, 0, 'actor_rollout_ref.model'),
      /actor_rollout_ref\.model\.lora_rank: expected a positive integer \(0 turns LoRA off\), got -1/);
    assert.throws(() => new LoraModel(model, { rank: 2.5, alpha: 8, targetModules: 'all-linear' }, 0, 'm'), /m\.lora_rank: expected a positive integer/);
    assert.throws(() => new LoraModel(model, { rank: 4, alpha: 0, targetModules: 'all-linear' }, 0, 'm'), /m\.lora_alpha: expected a non-zero number/);
    assert.throws(() => new LoraModel(model, { rank: 4, alpha: 8, targetModules: ['c_attn', 'q_proj'] }, 0, 'm'),
      /m\.target_modules: c_attn names no Linear module of the model; it has q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head/);
    assert.ok(model.parameters().every((p) => p.requiresGrad), 'a refused config leaves the model as it was');
    model.dispose();
  });
  // An adapter made for another base (another hidden size): refused before anything is written.
  const bad = join(tmp, 'bad-adapter');
  await withBackend(cpu, async () => {
    const model = loadCausalLM(tinyLlamaDir, { backend: cpu });
    const lora = new LoraModel(model, { rank: 2, alpha: 4, targetModules: ['q_proj'] }, 1);
    await lora.save(bad);
    lora.dispose();
    model.dispose();
  });
  const cfg = JSON.parse(readFileSync(join(bad, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(bad, 'adapter_config.json'), JSON.stringify({ ...cfg, r: 3 }));
  const out = join(tmp, 'never');
  const r = spawnSync(process.execPath, [main, 'merge-lora', '--model', tinyLlamaDir, '--lora', bad, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /lora_A\.weight has shape \[2, 128\], the model's model\.layers\.0\.self_attn\.q_proj with r = 3 needs \[3, 128\]: the adapter was made for another base/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'nothing written');
});
