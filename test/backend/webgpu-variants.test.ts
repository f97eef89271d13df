// Which WGSL a kernel gets for the optional device features, checked without a device: the f16
// variants declare f16 storage and widen on the read, the subgroup variants reduce with subgroup
// operations, and the plain variants enable neither (so they compile on every adapter). Also the
// f16 fallback where no device has it: createBackend warns and frozen weights stay f32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend } from '../../src/backend/index.js';
import { dawnFlags } from '../../src/backend/webgpu/node.js';
import { embeddingWgsl } from '../../src/backend/webgpu/wgsl/gather.js';
import { MATMUL_TILE, matmulWgsl, SPLIT_K_MIN_SLICE, SPLIT_K_TARGET_GROUPS, splitKPlan } from '../../src/backend/webgpu/wgsl/matmul.js';
import {
  logprobEntropyWgsl, reduceRowWgsl, rmsnormDwBlocks, rmsnormDxWgsl, rmsnormWgsl, softmaxBackwardWgsl, softmaxWgsl,
} from '../../src/backend/webgpu/wgsl/rows.js';
import { loadCausalLM } from '../../src/models/load.js';
import * as T from '../../src/tensor/index.js';
import { tinyLlamaDir } from '../helpers/assets.js';

test('matmul and embedding: the f16 variant reads B / the table as f16 and widens it; the plain one has no f16', () => {
  for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    const half = matmulWgsl(transA, transB, true);
    assert.ok(half.startsWith('enable f16;'), 'enable must open the module');
    assert.match(half, /var<storage, read> B: array<f16>;/);
    assert.match(half, /var<storage, read> A: array<f32>;/);
    assert.match(half, /bv = f32\(B\[/);
    assert.match(half, /var<workgroup> Bs: array<vec4<f32>, \d+>;/, 'tiles and accumulation stay f32');
    const plain = matmulWgsl(transA, transB);
    assert.doesNotMatch(plain, /f16/);
  }
  assert.match(embeddingWgsl(true), /^enable f16;[\s\S]*TBL: array<f16>;[\s\S]*v = f32\(TBL\[/);
  assert.doesNotMatch(embeddingWgsl(false), /f16/);
});

test('row kernels: the subgroup variant reduces with subgroup operations, the default with a workgroup tree', () => {
  const kernels: [string, (sub: boolean) => string][] = [
    ['softmax', (s) => softmaxWgsl(false, s)], ['logSoftmax', (s) => softmaxWgsl(true, s)],
    ['softmaxBackward', (s) => softmaxBackwardWgsl(false, s)], ['reduce sum', (s) => reduceRowWgsl('sum', s)],
    ['reduce max', (s) => reduceRowWgsl('max', s)], ['rmsnorm', rmsnormWgsl], ['rmsnormDx', rmsnormDxWgsl],
    ['logprobEntropy', logprobEntropyWgsl],
  ];
  for (const [name, code] of kernels) {
    const sub = code(true);
    assert.ok(sub.startsWith('enable subgroups;'), name);
    assert.match(sub, /subgroupAdd\(/, name);
    assert.match(sub, /subgroupMax\(/, name);
    assert.match(sub, /t == subgroupMin\(t\)/, `${name}: one slot per subgroup, whatever its members`);
    const tree = code(false);
    assert.doesNotMatch(tree, /subgroup/, name);
    assert.match(tree, /for \(var s = 128u; s > 0u; s >>= 1u\)/, name);
  }
});

test('Dawn flags: the NVIDIA f16 toggle is always on, merged with the caller\'s toggles into one flag', () => {
  assert.deepEqual(dawnFlags(undefined), ['enable-dawn-features=vulkan_enable_f16_on_nvidia']);
  assert.deepEqual(dawnFlags('vulkan', ['enable-dawn-features=dump_shaders,vulkan_enable_f16_on_nvidia', 'adapter=x']),
    ['backend=vulkan', 'enable-dawn-features=vulkan_enable_f16_on_nvidia,dump_shaders', 'adapter=x']);
});

test('f16 weights: the CPU backend stores frozen matrices as f16; the reference backend warns and keeps f32', async () => {
  const warnings: string[] = [];
  const cpu = await createBackend('cpu', { threads: 1, weightDtype: 'f16', warn: (m) => warnings.push(m) });
  try {
    assert.equal(warnings.length, 0, warnings.join('; '));
    assert.equal(cpu.weightDtype, 'f16');
    T.setBackend(cpu);
    const model = loadCausalLM(tinyLlamaDir, { backend: cpu, frozen: true });
    for (const [name, p] of model.namedParameters()) assert.equal(p.dtype, name.endsWith('norm.weight') ? 'f32' : 'f16', name);
    model.dispose();
    assert.throws(() => loadCausalLM(tinyLlamaDir, { backend: cpu, frozen: true, forTraining: true }), /both frozen and for training/);
  } finally {
    cpu.destroy();
  }
  const ref = await createBackend('reference', { weightDtype: 'f16', warn: (m) => warnings.push(m) });
  try {
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /f16 weights need device cpu, or webgpu on an adapter with shader-f16; device reference keeps them f32/);
    assert.notEqual(ref.weightDtype, 'f16');
    assert.throws(() => T.Tensor.empty([4], 'f16', ref), /the reference backend has no f16 storage/);
  } finally {
    ref.destroy();
  }
  const quiet: string[] = [];
  (await createBackend('reference', { warn: (m) => quiet.push(m) })).destroy();
  assert.deepEqual(quiet, [], 'no warning unless f16 was asked for');
});

test('split along K: decoding\'s projections are split, products with enough tiles or short K are not', () => {
  const GiB = 2 ** 31;
  // Qwen2.5-0.5B decoding at batch 64: q/o (896 wide), k/v (128), gate/up (4864), down (K 4864).
  for (const [m, n, k] of [[64, 896, 896], [64, 128, 896], [64, 4864, 896], [64, 896, 4864], [16, 896, 4096]]) {
    const plan = splitKPlan(m!, n!, k!, GiB);
    assert.ok(plan, `[${m},${n},${k}] should be split`);
    const tiles = Math.ceil(m! / MATMUL_TILE) * Math.ceil(n! / MATMUL_TILE);
    assert.equal(plan.sliceK % 16, 0, 'slices are whole K steps');
    assert.ok(plan.sliceK >= SPLIT_K_MIN_SLICE || plan.slices * plan.sliceK >= k!, 'no slice shorter than the minimum');
    assert.ok((plan.slices - 1) * plan.sliceK < k! && plan.slices * plan.sliceK >= k!, 'the slices cover K, none empty');
    assert.ok(tiles * plan.slices <= SPLIT_K_TARGET_GROUPS * 1.2, `${tiles * plan.slices} workgroups`);
  }
  assert.equal(splitKPlan(64, 151936, 896, GiB), null, 'the output layer has tiles enough');
  assert.equal(splitKPlan(4096, 896, 896, GiB), null, 'a training step\'s forward has tiles enough');
  assert.equal(splitKPlan(5, 7, 200, GiB), null, 'K under two slices');
  assert.equal(splitKPlan(64, 64, 4096, 64 * 64 * 4), null, 'partials must fit one binding');
  assert.equal(splitKPlan(64, 64, 4096, 3 * 64 * 64 * 4)?.slices, 3, 'as many slices as the binding holds');
  assert.equal(splitKPlan(0, 7, 4096, GiB), null);
});

test('matmul\'s split variant reads its K slice from the grid\'s z and has no batch', () => {
  const split = matmulWgsl(false, true, false, true);
  assert.match(split, /let batch = 0u; let slice = wid\.z; let kBegin = slice \* pu\(8u\)/);
  assert.match(split, /let accumulate = false;/);
  assert.match(matmulWgsl(false, true), /let batch = wid\.z; let slice = batch; let kBegin = 0u; let kEnd = k;/);
});

test('RMSNorm dW row blocks: about 512 workgroups, at least 64 rows a block, every row in one block', () => {
  for (const [rows, dim] of [[1, 896], [64, 896], [127, 896], [4096, 896], [4096, 4096], [100000, 64], [3, 1]]) {
    const { blocks, rowsPerBlock } = rmsnormDwBlocks(rows!, dim!);
    assert.ok(blocks >= 1 && (blocks - 1) * rowsPerBlock < rows! && blocks * rowsPerBlock >= rows!, `[${rows},${dim}]`);
    assert.ok(blocks === 1 || rowsPerBlock >= 64, `[${rows},${dim}]: ${rowsPerBlock} rows a block`);
    assert.ok(blocks * Math.ceil(dim! / 256) <= 512 + Math.ceil(dim! / 256), `[${rows},${dim}]: ${blocks} blocks`);
  }
  assert.equal(rmsnormDwBlocks(4096, 896).blocks, 64);
});
