import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floatOption, intOption, parseArgs } from '../src/cli/args.js';

const spec = { out: { type: 'string' as const }, json: { type: 'boolean' as const }, n: { type: 'string' as const } };

test('parseArgs reads values, flags and positionals', () => {
  const parsed = parseArgs(['file.parquet', '--out', 'dir', '--json', '--n=3'], spec, 'x');
  assert.deepEqual(parsed.positionals, ['file.parquet']);
  assert.equal(parsed.options.out, 'dir');
  assert.equal(parsed.options.json, true);
  assert.equal(intOption(parsed, 'n', 0, 'x'), 3);
});

test('parseArgs rejects unknown options and names them', () => {
  assert.throws(() => parseArgs(['--bogus'], spec, 'x'), /unknown option '--bogus'.*--out/);
  assert.throws(() => parseArgs(['--out'], spec, 'x'), /'--out' needs a value/);
});

test('numeric options fail with the option name and value', () => {
  const parsed = parseArgs(['--n', '2.5'], spec, 'x');
  assert.throws(() => intOption(parsed, 'n', 0, 'x'), /'--n' expects an integer, got '2.5'/);
  assert.equal(floatOption(parsed, 'n', 0, 'x'), 2.5);
});
