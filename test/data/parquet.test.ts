import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { buildDataset, readParquet, writeParquet, parquetBytes, inferColumns } from '../../src/data/index.js';
import { computeScore } from '../../src/tasks/index.js';
import { digitCompletionDir } from '../helpers/assets.js';

const FIXTURES = digitCompletionDir;
const tmp = (): string => mkdtempSync(join(tmpdir(), 'tinyzero-data-'));
const schemaOf = (path: string): unknown => parquetMetadata(new Uint8Array(readFileSync(path)).buffer).schema;

for (const [name, rows] of [['train', 800], ['test', 200]] as const) {
  test(`veRL fixture ${name}.parquet loads (${rows} rows) and round-trips through our writer`, async (t) => {
    const path = join(FIXTURES, `${name}.parquet`);
    if (!existsSync(path)) return t.skip(`${path} not present`);
    const table = await readParquet(path);
    assert.equal(table.rows.length, rows);
    assert.match((table.rows[0]!.prompt as { content: string }[])[0]!.content, /^\d,\d:9,\d$/);
    assert.equal((table.rows[0]!.prompt as { role: string }[])[0]!.role, 'user');
    const out = join(tmp(), `${name}.parquet`);
    writeParquet(out, table.rows, table.columns);
    const back = await readParquet(out);
    assert.deepEqual(back.rows, table.rows);
    assert.deepEqual(back.columns, table.columns);
    // the schema pyarrow wrote is the schema we write
    assert.deepEqual(schemaOf(out), schemaOf(path));
  });
}

test('generated countdown rows: veRL schema, ints as int64, ground truth scores 1.0 with the solution', async () => {
  const { train, test: testRows } = buildDataset('countdown', { trainSize: 40, testSize: 8, seed: 5 });
  const dir = tmp();
  writeParquet(join(dir, 'train.parquet'), train);
  const back = await readParquet(join(dir, 'train.parquet'));
  assert.deepEqual(back.rows, train);
  assert.deepEqual(back.columns.map((c) => c.name), ['target', 'nums', 'data_source', 'prompt', 'ability', 'reward_model', 'extra_info']);
  const rm = back.columns.find((c) => c.name === 'reward_model')!;
  assert.deepEqual(rm.type, { kind: 'struct', fields: [
    { name: 'ground_truth', type: { kind: 'struct', fields: [{ name: 'numbers', type: { kind: 'list', element: { kind: 'int64' } } }, { name: 'target', type: { kind: 'int64' } }] } },
    { name: 'style', type: { kind: 'string' } },
  ] });
  const row = back.rows[3]!;
  assert.deepEqual(row.extra_info, { index: 3, split: 'train' });
  assert.equal(testRows[0]!.extra_info && (testRows[0]!.extra_info as { split: string }).split, 'test');
  const gt = (row.reward_model as { ground_truth: { numbers: number[]; target: number } }).ground_truth;
  assert.deepEqual(gt.numbers, row.nums);
  assert.equal(computeScore('countdown', `${(row.prompt as { content: string }[])[0]!.content} no </think>\n<answer>${gt.numbers.join(' + ')}</answer>`, gt),
    gt.numbers.reduce((a, b) => a + b, 0) === gt.target ? 1 : 0.1);
});

test('generation is deterministic for a seed and differs across seeds', () => {
  for (const task of ['countdown', 'multiply', 'arith', 'digit-completion'] as const) {
    const a = buildDataset(task, { trainSize: 20, testSize: 5, seed: 1 });
    assert.deepEqual(buildDataset(task, { trainSize: 20, testSize: 5, seed: 1 }), a, task);
    assert.notDeepEqual(buildDataset(task, { trainSize: 20, testSize: 5, seed: 2 }), a, task);
    assert.equal(Buffer.compare(Buffer.from(parquetBytes(a.train)), Buffer.from(parquetBytes(a.train))), 0);
  }
  const dc = buildDataset('digit-completion');
  assert.equal(dc.train.length, 800);
  assert.equal(dc.test.length, 200);
  assert.deepEqual(inferColumns(dc.train).map((c) => c.name), ['prompt']);
});

test('bad input: unreadable files and mistyped values name the file, row and key', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'bad.parquet'), 'not parquet');
  await assert.rejects(readParquet(join(dir, 'bad.parquet')), /bad\.parquet: not a readable parquet file/);
  await assert.rejects(readParquet(join(dir, 'missing.parquet')), /missing\.parquet: cannot read/);
  const columns = inferColumns([{ a: 1 }]);
  assert.throws(() => writeParquet(join(dir, 'x.parquet'), [{ a: 1 }, { a: 'two' }], columns), /row 1: a': expected an integer, got "two"/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');
  assert.ok(!existsSync(join(dir, 'x.parquet')));
  assert.throws(() => buildDataset('digit-completion', { trainSize: 900, testSize: 200 }), /exceeds the 1000/);
});
