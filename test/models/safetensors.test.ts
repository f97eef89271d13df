import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tinyLlamaDir } from '../helpers/assets.js';
import {
  SafetensorsFile, ShardedSafetensors, openWeights, rawToFloat32, readSafetensors, saveWeights, writeSafetensors,
  type FloatDtype, type RawTensor,
} from '../../src/models/index.js';

const fixture = `${tinyLlamaDir}/model.safetensors`;
const tmp = () => mkdtempSync(join(tmpdir(), 'tinyzero-st-'));

/** BF16 decoded from its bit fields, independent of the code under test. */
function bf16ByHand(lo: number, hi: number): number {
  const bits = lo | (hi << 8);
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 7) & 0xff;
  const man = bits & 0x7f;
  if (exp === 0) return sign * man * 2 ** -133; // subnormal: man/128 · 2^-126
  if (exp === 0xff) return man === 0 ? sign * Infinity : NaN;
  return sign * (1 + man / 128) * 2 ** (exp - 127);
}

/** Deterministic pseudo-random float32 values spanning many magnitudes and both signs. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * 2 ** ((s % 24) - 12);
  }
  return out;
}

test('tiny-llama fixture: names, shapes, parameter count and metadata', () => {
  const f = SafetensorsFile.open(fixture);
  try {
    const layer = (i: number) => [
      [`model.layers.${i}.input_layernorm.weight`, [128]],
      [`model.layers.${i}.post_attention_layernorm.weight`, [128]],
      [`model.layers.${i}.mlp.down_proj.weight`, [128, 344]],
      [`model.layers.${i}.mlp.gate_proj.weight`, [344, 128]],
      [`model.layers.${i}.mlp.up_proj.weight`, [344, 128]],
      ...['q', 'k', 'v', 'o'].map((p) => [`model.layers.${i}.self_attn.${p}_proj.weight`, [128, 128]]),
    ];
    const expected = new Map<string, number[]>([
      ['lm_head.weight', [16, 128]],
      ['model.embed_tokens.weight', [16, 128]],
      ['model.norm.weight', [128]],
      ...[0, 1, 2, 3].flatMap(layer),
    ] as [string, number[]][]);
    assert.deepEqual([...f.names].sort(), [...expected.keys()].sort());
    let total = 0;
    for (const [name, shape] of expected) {
      const info = f.info(name);
      assert.equal(info.dtype, 'BF16', name);
      assert.deepEqual(info.shape, shape, name);
      total += shape.reduce((a, b) => a * b, 1);
    }
    assert.equal(total, 795_776);
    assert.deepEqual(f.metadata, { format: 'pt' });
  } finally {
    f.close();
  }
});

test('tiny-llama fixture: values match BF16 decoded by hand from the file bytes', () => {
  const bytes = readFileSync(fixture);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const f = SafetensorsFile.open(fixture);
  try {
    for (const name of ['model.norm.weight', 'model.layers.2.self_attn.k_proj.weight', 'lm_head.weight', 'model.layers.3.mlp.down_proj.weight']) {
      const begin = 8 + n + header[name]!.data_offsets[0];
      const got = f.readFloat32(name);
      const count = (header[name]!.data_offsets[1] - header[name]!.data_offsets[0]) / 2;
      assert.equal(got.length, count);
      for (const i of [0, 1, 7, count - 1]) {
        assert.equal(got[i], bf16ByHand(bytes[begin + 2 * i]!, bytes[begin + 2 * i + 1]!), `${name}[${i}]`);
      }
      // The raw bytes are exactly the file's bytes.
      assert.deepEqual(Buffer.from(f.readRaw(name).data), bytes.subarray(begin, begin + 2 * count));
    }
    // The in-place widening of readFloat32 agrees with widening a separate raw copy, for every tensor.
    for (const name of f.names) assert.deepEqual(f.readFloat32(name), rawToFloat32(f.readRaw(name)), name);
    // Not all zero: the widened values carry real information.
    assert.ok(f.readFloat32('model.layers.0.self_attn.q_proj.weight').some((x) => x !== 0));
  } finally {
    f.close();
  }
});

test('rewriting the fixture\'s raw tensors reproduces the file byte for byte', () => {
  const { tensors, metadata } = readSafetensors(fixture);
  const out = join(tmp(), 'model.safetensors');
  writeSafetensors(out, tensors, { metadata });
  assert.ok(readFileSync(out).equals(readFileSync(fixture)));
});

for (const dtype of ['F32', 'BF16', 'F16'] as FloatDtype[]) {
  test(`${dtype}: save then load is bit-exact, and loading then saving again gives the same file`, () => {
    const dir = tmp();
    const a = values(1000, 7);
    const b = values(6, 9);
    const first = join(dir, 'a.safetensors');
    writeSafetensors(first, { 'x.weight': { shape: [10, 100], data: a }, 'b.bias': { shape: [2, 3], data: b } }, { dtype });
    const f = SafetensorsFile.open(first);
    const wx = f.readFloat32('x.weight');
    const raw = f.readRaw('x.weight');
    assert.equal(raw.dtype, dtype);
    assert.deepEqual(f.info('b.bias').shape, [2, 3]);
    if (dtype === 'F32') assert.deepEqual(wx, a);
    else assert.ok(wx.some((x, i) => x !== a[i]), 'narrowing must change some values'); // proves conversion happened
    f.close();
    // float32 widened from BF16/F16 narrows back to the same bits, and raw bytes copy unchanged.
    const second = join(dir, 'b.safetensors');
    writeSafetensors(second, { 'x.weight': { shape: [10, 100], data: wx }, 'b.bias': readSafetensors(first).tensors.get('b.bias')! }, { dtype });
    assert.ok(readFileSync(second).equals(readFileSync(first)));
    const third = join(dir, 'c.safetensors');
    writeSafetensors(third, readSafetensors(first).tensors);
    assert.ok(readFileSync(third).equals(readFileSync(first)));
  });
}

test('writer: header padded with spaces to 8 bytes, ordered by element size then name, metadata first', () => {
  const file = join(tmp(), 'm.safetensors');
  const bf16: RawTensor = { dtype: 'BF16', shape: [3], data: new Uint8Array([0, 0x3f, 0x80, 0x3f, 0, 0x40]) };
  writeSafetensors(file, new Map<string, RawTensor | { shape: number[]; data: Float32Array }>([
    ['z', bf16],
    ['b', { shape: [1], data: new Float32Array([2]) }],
    ['a', { shape: [2], data: new Float32Array([1, -1]) }],
  ]));
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const text = bytes.subarray(8, 8 + n).toString('utf8');
  assert.match(text, /^\{"__metadata__":\{"format":"pt"\},"a":\{"dtype":"F32","shape":\[2\],"data_offsets":\[0,8\]\},"b":.*"z":.*\} *$/);
  assert.ok(/ *$/.exec(text)![0].length < 8);
  assert.deepEqual([...bytes.subarray(8 + n + 12)], [0, 0x3f, 0x80, 0x3f, 0, 0x40]);
  assert.equal(bytes.length, 8 + n + 12 + 6);
  // metadata: null writes none; the tensor order does not depend on insertion order.
  const other = join(tmp(), 'm.safetensors');
  writeSafetensors(other, { a: { shape: [2], data: new Float32Array([1, -1]) } }, { metadata: null });
  assert.equal(SafetensorsFile.open(other).metadata, null);
  // No temp files left behind next to the target.
  assert.deepEqual(readdirSync(join(file, '..')), ['m.safetensors']);
});

test('BF16 narrowing rounds to nearest even; NaN and ±Inf as PyTorch', () => {
  const cases: [number, number][] = [
    [1, 0x3f80],
    [1 + 2 ** -8, 0x3f80], // halfway between 1 and 1+2^-7: ties to the even mantissa 0
    [1 + 3 * 2 ** -8, 0x3f82], // halfway between mantissa 1 and 2: ties to 2
    [1 + 2 ** -8 + 2 ** -20, 0x3f81], // just above halfway rounds up
    [1 + 2 ** -8 - 2 ** -20, 0x3f80], // just below rounds down
    [-2.5, 0xc020],
    [-0, 0x8000],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [NaN, 0x7fc0],
    [3.4028234663852886e38, 0x7f80], // float32 max rounds up past bf16's max: Inf
    [2 ** -130, 0x0008], // subnormal: 8 units of 2^-133, exactly representable
  ];
  const file = join(tmp(), 'r.safetensors');
  writeSafetensors(file, { v: { shape: [cases.length], data: new Float32Array(cases.map(([x]) => x)) } }, { dtype: 'BF16' });
  const raw = readSafetensors(file).tensors.get('v')!;
  const bits = new Uint16Array(raw.data.buffer, raw.data.byteOffset, cases.length);
  cases.forEach(([x, want], i) => assert.equal(bits[i], want, `bf16(${x}) = 0x${bits[i]!.toString(16)}, want 0x${want.toString(16)}`));
  // A float32 NaN whose payload sits only in the low bits must not round to Inf.
  const nanLow = new Float32Array(new Uint32Array([0x7f800001]).buffer);
  writeSafetensors(file, { v: { shape: [1], data: nanLow } }, { dtype: 'BF16' });
  assert.ok(Number.isNaN(SafetensorsFile.open(file).readFloat32('v')[0]));
});

test('F16 narrowing rounds to nearest even, with overflow to Inf and subnormals', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [1 + 2 ** -11, 0x3c00], // tie: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: to even (up)
    [65504, 0x7bff], // largest finite
    [65519, 0x7bff],
    [65520, 0x7c00], // halfway to 2^16: rounds to even, which is Inf
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: to even 0
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units: to 2
    [2 ** -14 - 2 ** -25, 0x0400], // rounds up into the smallest normal
    [-0.5, 0xb800],
  ];
  const file = join(tmp(), 'h.safetensors');
  writeSafetensors(file, { v: { shape: [cases.length], data: new Float32Array(cases.map(([x]) => x)) } }, { dtype: 'F16' });
  const raw = readSafetensors(file).tensors.get('v')!;
  const bits = new Uint16Array(raw.data.buffer, raw.data.byteOffset, cases.length);
  cases.forEach(([x, want], i) => assert.equal(bits[i], want, `f16(${x}) = 0x${bits[i]!.toString(16)}, want 0x${want.toString(16)}`));
  const back = SafetensorsFile.open(file).readFloat32('v');
  assert.equal(back[3], 65504);
  assert.equal(back[8], 2 ** -24);
});

test('every non-NaN BF16 and F16 value survives widen then narrow', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  for (const dtype of ['BF16', 'F16'] as const) {
    const wide = rawToFloat32({ dtype, shape: [65536], data: new Uint8Array(all.buffer) });
    const file = join(tmp(), 'all.safetensors');
    writeSafetensors(file, { v: { shape: [65536], data: wide } }, { dtype });
    const raw = readSafetensors(file).tensors.get('v')!;
    const bits = new Uint16Array(raw.data.buffer, raw.data.byteOffset, 65536);
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) if (!Number.isNaN(wide[h]) && bits[h] !== h) mismatches++;
    assert.equal(mismatches, 0, dtype);
    // F16 decodes to the IEEE value: (1 + m/1024)·2^(e-15), spot-checked by formula.
    if (dtype === 'F16') assert.equal(wide[0x4248], (1 + 0x248 / 1024) * 2 ** (0x10 - 15));
  }
});

/** A safetensors file from a header object and a data length, for corruption tests. */
function craft(header: unknown, dataBytes: number, lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const file = join(tmp(), 'bad.safetensors');
  writeFileSync(file, Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]));
  return file;
}

test('corrupt or truncated files fail with errors naming the file and the tensor', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const expectError = (file: string, pattern: RegExp) =>
    assert.throws(() => SafetensorsFile.open(file), (e: Error) => e.message.includes(file) && pattern.test(e.message));
  expectError(craft(ok, 8, 1000n), /header length 1000 runs past the end/);
  expectError(craft(ok, 8, 2n ** 40n), /exceeds/);
  expectError(craft('{"w": {"dtype": "F32",', 8), /not valid UTF-8 JSON/);
  expectError(craft('[1, 2]', 0), /must be a JSON object/);
  expectError(craft({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, 8), /tensor 'w': unknown dtype "Q4"/);
  expectError(craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /tensor 'w'.*span 8 bytes.*needs 12/);
  expectError(craft({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, 8), /tensor 'w'.*end before begin/);
  expectError(craft({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8), /tensor 'w': shape must be/);
  expectError(
    craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
    /tensor 'b'.*overlaps tensor 'a'/,
  );
  expectError(craft({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /gap of 4 bytes before tensor 'w'/);
  expectError(craft(ok, 5), /tensor 'w'.*past the data buffer.*truncated/); // truncated data
  expectError(craft(ok, 12), /4 trailing bytes/);
  expectError(craft({ __metadata__: { format: 1 }, ...ok }, 8), /__metadata__\.format must be a string/);
  const tiny = join(tmp(), 'tiny.safetensors');
  writeFileSync(tiny, Buffer.from([1, 2, 3]));
  expectError(tiny, /fewer than the 8-byte header length/);
  // A well-formed file opens; reading a missing tensor or a non-float one as float32 fails by name.
  const good = SafetensorsFile.open(craft(ok, 8));
  assert.throws(() => good.readFloat32('nope'), /no tensor named 'nope'/);
  const ints = SafetensorsFile.open(craft({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8));
  assert.equal(ints.readRaw('ids').data.length, 8);
  assert.throws(() => ints.readFloat32('ids'), /'ids' has dtype I64; only BF16, F16 and F32/);
});

test('sharded folders: saveWeights splits by size, openWeights reads through the index', () => {
  const dir = tmp();
  const tensors = {
    'model.embed_tokens.weight': { shape: [4, 8], data: values(32, 1) },
    'model.layers.0.self_attn.q_proj.bias': { shape: [8], data: values(8, 2) },
    'model.norm.weight': { shape: [8], data: values(8, 3) },
    'lm_head.weight': { shape: [4, 8], data: values(32, 4) },
  };
  // 64 (lm_head) + 64 (embed) bf16 bytes fill the first shard; the rest go to the second.
  const files = saveWeights(dir, tensors, { dtype: 'BF16', maxShardBytes: 128 });
  assert.deepEqual(files.map((f) => f.slice(dir.length + 1)), [
    'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json',
  ]);
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  assert.equal(index.metadata.total_size, 2 * (32 + 8 + 8 + 32));
  assert.equal(index.weight_map['lm_head.weight'], 'model-00001-of-00002.safetensors');
  assert.equal(index.weight_map['model.norm.weight'], 'model-00002-of-00002.safetensors');
  const w = openWeights(dir);
  assert.ok(w instanceof ShardedSafetensors);
  assert.deepEqual(w.names, Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const got = w.readFloat32(name);
    for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(got[i]! - t.data[i]!) <= Math.abs(t.data[i]!) * 2 ** -8, `${name}[${i}]`);
  }
  assert.notEqual(w.fileOf('lm_head.weight'), w.fileOf('model.norm.weight'));
  w.close();
  // Saving again unsharded removes the stale shards and index.
  saveWeights(dir, tensors, { dtype: 'BF16' });
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  assert.ok(openWeights(dir) instanceof SafetensorsFile);
});

test('sharded index errors name the index, the tensor and the shard', () => {
  const dir = tmp();
  saveWeights(dir, { a: { shape: [2], data: new Float32Array(2) }, b: { shape: [2], data: new Float32Array(2) } }, { maxShardBytes: 8 });
  const index = join(dir, 'model.safetensors.index.json');
  const map = JSON.parse(readFileSync(index, 'utf8'));
  writeFileSync(index, JSON.stringify({ weight_map: { ...map.weight_map, c: 'model-00003-of-00002.safetensors' } }));
  assert.throws(() => openWeights(dir), /weight_map\['c'\] names shard 'model-00003-of-00002.safetensors', which does not exist/);
  writeFileSync(index, JSON.stringify({ weight_map: { ...map.weight_map, c: 'model-00001-of-00002.safetensors' } }));
  assert.throws(() => openWeights(dir), /puts 'c' in 'model-00001-of-00002.safetensors', but that shard has no such tensor/);
  writeFileSync(index, JSON.stringify({ weight_map: { a: '../x.safetensors' } }));
  assert.throws(() => openWeights(index), /must be a shard file name in the same folder/);
  writeFileSync(index, '{"metadata": {}}');
  assert.throws(() => openWeights(dir), (e: Error) => e.message.includes(index) && /missing 'weight_map'/.test(e.message));
  assert.throws(() => openWeights(tmp()), /no model.safetensors or model.safetensors.index.json/);
});

test('rawToFloat32 widens unaligned views and checks the byte count', () => {
  const backing = new Uint8Array(1 + 8);
  backing.set([0x80, 0x3f, 0x00, 0xc0, 0x00, 0x00, 0x80, 0x7f], 1); // BF16 1, -2, 0, +Inf at byte offset 1
  const view = backing.subarray(1);
  assert.deepEqual(rawToFloat32({ dtype: 'BF16', shape: [4], data: view }), new Float32Array([1, -2, 0, Infinity]));
  assert.deepEqual(rawToFloat32({ dtype: 'F32', shape: [2], data: view }), new Float32Array(new Uint8Array(view).buffer));
  assert.throws(() => rawToFloat32({ dtype: 'F16', shape: [5], data: view }, 'x'), /x: 8 bytes, but shape \[5\] of F16 needs 10/);
});

test('writer validates data length against the shape', () => {
  const file = join(tmp(), 'w.safetensors');
  assert.throws(() => writeSafetensors(file, { w: { shape: [3], data: new Float32Array(2) } }), /tensor 'w' has 2 values, shape \[3\] needs 3/);
  assert.throws(() => writeSafetensors(file, { w: { dtype: 'BF16', shape: [3], data: new Uint8Array(4) } }), /tensor 'w' has 4 bytes/);
  assert.deepEqual(readdirSync(join(file, '..')), []); // a failed write leaves nothing behind
});
