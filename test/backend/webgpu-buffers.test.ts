// The WebGPU buffer pool's sizes, with a stand-in device (no Dawn needed): buckets, the exact size
// near the adapter's limit, and the limit's name in the refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool, bucketSize, exactSize } from '../../src/backend/webgpu/buffers.js';

const g = globalThis as { GPUBufferUsage?: unknown };
g.GPUBufferUsage ??= { STORAGE: 0x80, COPY_SRC: 0x4, COPY_DST: 0x8 };

function fakeDevice(): { device: GPUDevice; sizes: number[] } {
  const sizes: number[] = [];
  const device = { createBuffer: ({ size }: { size: number }) => { sizes.push(size); return { size, destroy() {} }; } };
  return { device: device as unknown as GPUDevice, sizes };
}

test('buckets: 256 bytes, then four per power of two; a freed buffer is reused for its bucket', () => {
  assert.equal(bucketSize(1), 256);
  assert.equal(bucketSize(1000), 1024);
  assert.equal(bucketSize(1025), 1280);
  const { device, sizes } = fakeDevice();
  const pool = new BufferPool(device, 2 ** 30);
  const a = pool.alloc(1100, 'test');
  pool.free(a);
  const b = pool.alloc(1200, 'test');
  assert.equal(b.byteLength, 1280);
  assert.deepEqual(sizes, [1280], 'the second allocation took the freed buffer');
});

test('near the limit a buffer whose bucket would exceed it gets its exact size', () => {
  const limit = 600 * 2 ** 20; // the 545 MB embedding of Qwen2.5-0.5B buckets to 640 MiB
  const { device, sizes } = fakeDevice();
  const pool = new BufferPool(device, 2 ** 32, limit);
  assert.equal(pool.maxBytes, limit);
  const bytes = 151936 * 896 * 4;
  assert.ok(bucketSize(bytes) > limit);
  const buf = pool.alloc(bytes, 'embedding');
  assert.equal(buf.byteLength, exactSize(bytes));
  assert.ok(buf.byteLength >= bytes && buf.byteLength <= limit && buf.byteLength % 256 === 0);
  assert.deepEqual(sizes, [exactSize(bytes)]);
  assert.throws(() => pool.alloc(limit + 1, 'logits'), /logits: \d+ bytes exceed the adapter's maxStorageBufferBindingSize of 629145600/);
  assert.throws(() => new BufferPool(device, 1024).alloc(2048, 'x'), /exceed the adapter's maxBufferSize of 1024/);
});
