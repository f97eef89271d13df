import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDirAtomic, writeFileAtomic, writeFully } from '../../src/util/atomic-file.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'tinyzero-atomic-'));

test('writeFileAtomic writes text, bytes and callback content, creating the parent folder, and leaves no temp file', () => {
  const dir = tmp();
  const text = join(dir, 'a', 'b', 'x.txt');
  writeFileAtomic(text, 'héllo\n');
  assert.equal(readFileSync(text, 'utf8'), 'héllo\n');
  writeFileAtomic(text, new Uint8Array([104, 105]));
  assert.equal(readFileSync(text, 'utf8'), 'hi');
  writeFileAtomic(text, (fd) => {
    writeFully(fd, new Uint8Array([1, 2]));
    writeFully(fd, new Uint8Array([3]));
  });
  assert.deepEqual([...readFileSync(text)], [1, 2, 3]);
  assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['x.txt']);
});

test('writeFileAtomic keeps the old content and removes its temp file when the write fails', () => {
  const dir = tmp();
  const file = join(dir, 'keep.json');
  writeFileSync(file, 'old');
  assert.throws(() => writeFileAtomic(file, () => { throw new Error('disk full'); }), /disk full/);
  assert.equal(readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['keep.json']);
});

test('writeDirAtomic replaces a folder with what fill wrote, and leaves the old one whole when fill fails', async () => {
  const root = tmp();
  const dir = join(root, 'global_step_1');
  mkdirSync(dir);
  writeFileSync(join(dir, 'stale.txt'), 'stale');
  await writeDirAtomic(dir, (t) => writeFileAtomic(join(t, 'state.json'), '{}'));
  assert.deepEqual(readdirSync(dir), ['state.json']);
  await assert.rejects(writeDirAtomic(dir, async (t) => {
    writeFileAtomic(join(t, 'half.bin'), 'x');
    throw new Error('save failed');
  }), /save failed/);
  assert.deepEqual(readdirSync(dir), ['state.json']);
  assert.deepEqual(readdirSync(root), ['global_step_1']);
  await writeDirAtomic(join(root, 'new', 'deep'), () => {});
  assert.ok(existsSync(join(root, 'new', 'deep')));
});
