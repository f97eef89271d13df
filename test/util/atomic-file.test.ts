import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFully } from '../../src/util/atomic-file.js';

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
