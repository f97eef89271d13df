/**
 * `tinyzero data <task> --out DIR ...` writes train.parquet and test.parquet for a generated task;
 * `tinyzero data inspect FILE [--limit N] [--json]` prints a parquet file's schema and first rows.
 */
import { join } from 'node:path';
import { intOption, parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { progressLines } from './progress-lines.js';
import { formatUsage } from './usage.js';
import { buildDataset, DATASET_TASKS, DEFAULT_SIZES, inferColumns, readParquet, writeParquet, type DatasetTask, type FieldType } from '../data/index.js';
import { countdown } from '../tasks/index.js';

const generateSpec = {
  out: { type: 'string' as const, help: 'folder for train.parquet and test.parquet (created)' },
  'train-size': { type: 'string' as const, help: 'training rows (default per task)' },
  'test-size': { type: 'string' as const, help: 'held-out rows (default per task)' },
  template: { type: 'string' as const, help: 'countdown prompt: base (default) or qwen-instruct' },
  numbers: { type: 'string' as const, help: 'countdown: how many numbers, N or MIN-MAX within 2-6 (default 3-4)' },
  'max-number': { type: 'string' as const, help: 'countdown: the numbers are drawn from 1 to N (default 100)' },
  seed: { type: 'string' as const, help: 'default 0' },
};
const inspectSpec = {
  limit: { type: 'string' as const, help: 'rows to print (default 5)' },
  json: { type: 'boolean' as const, help: 'one JSON object: schema and rows' },
};

const USAGE = formatUsage({
  synopsis: [
    `tinyzero data <${DATASET_TASKS.join('|')}> --out DIR [--train-size N] [--test-size M] [--template base|qwen-instruct] [--numbers 3|3-4] [--max-number N] [--seed S]`,
    'tinyzero data inspect FILE [--limit N] [--json]',
  ],
  description: 'Writes train.parquet and test.parquet in veRL\'s schema for a generated task, or prints a parquet file\'s ' +
    'schema and first rows.',
  options: { ...generateSpec, ...inspectSpec },
  notes: [`default sizes (train, test): ${DATASET_TASKS.map((t) => `${t} ${DEFAULT_SIZES[t].join(', ')}`).join('; ')}`],
});

const json = (v: unknown, indent?: number): string =>
  JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), indent);

function typeName(t: FieldType): string {
  if (t.kind === 'list') return `list<${typeName(t.element)}>`;
  if (t.kind === 'struct') return `struct<${t.fields.map((f) => `${f.name}: ${typeName(f.type)}`).join(', ')}>`;
  return t.kind;
}

async function generate(task: DatasetTask, args: string[]): Promise<number> {
  const cmd = `data ${task}`;
  const parsed = parseArgs(args, generateSpec, cmd);
  const out = stringOption(parsed, 'out');
  if (!out) throw new Error(`${cmd}: --out DIR is required`);
  if (parsed.positionals.length > 0) throw new Error(`${cmd}: unexpected argument '${parsed.positionals[0]}'`);
  const template = stringOption(parsed, 'template') ?? 'base';
  if (!(countdown.COUNTDOWN_TEMPLATES as readonly string[]).includes(template)) {
    throw new Error(`${cmd}: --template must be one of ${countdown.COUNTDOWN_TEMPLATES.join(', ')}, got '${template}'`);
  }
  if (task !== 'countdown' && parsed.options.template !== undefined) throw new Error(`${cmd}: --template applies to countdown only`);
  const numbers = stringOption(parsed, 'numbers');
  if (task !== 'countdown' && numbers !== undefined) throw new Error(`${cmd}: --numbers applies to countdown only`);
  const range = numbers === undefined ? undefined : /^(\d+)(?:-(\d+))?$/.exec(numbers);
  if (range === null) throw new Error(`${cmd}: --numbers must be N or MIN-MAX, got '${numbers}'`);
  const countdownNumbers: [number, number] | undefined = range ? [Number(range[1]), Number(range[2] ?? range[1])] : undefined;
  if (countdownNumbers && !(countdownNumbers[0] >= 2 && countdownNumbers[0] <= countdownNumbers[1] && countdownNumbers[1] <= 6)) {
    throw new Error(`${cmd}: --numbers must be within 2-6, got '${numbers}'`);
  }
  if (task !== 'countdown' && parsed.options['max-number'] !== undefined) throw new Error(`${cmd}: --max-number applies to countdown only`);
  const countdownMaxNumber = intOption(parsed, 'max-number', 100, cmd);
  if (countdownMaxNumber < 1) throw new Error(`${cmd}: --max-number must be at least 1, got ${countdownMaxNumber}`);
  const [train, test] = DEFAULT_SIZES[task];
  const options = {
    trainSize: intOption(parsed, 'train-size', train, cmd),
    testSize: intOption(parsed, 'test-size', test, cmd),
    seed: intOption(parsed, 'seed', 0, cmd),
    template: template as countdown.CountdownTemplate,
    countdownNumbers,
    countdownMaxNumber,
    onProgress: progressLines(`${cmd}: generating rows`),
  };
  const t0 = Date.now();
  const data = buildDataset(task, options);
  for (const split of ['train', 'test'] as const) {
    const path = join(out, `${split}.parquet`);
    if (data[split].length > 10_000) process.stderr.write(`${cmd}: writing ${path} ...\n`);
    writeParquet(path, data[split], data[split].length > 0 ? inferColumns(data[split]) : inferColumns(data.train.length > 0 ? data.train : data.test));
    console.log(`wrote ${path} (${data[split].length} rows)`);
  }
  console.log(`${task}: seed ${options.seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

async function inspect(args: string[]): Promise<number> {
  const parsed = parseArgs(args, inspectSpec, 'data inspect');
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) throw new Error('data inspect: expected exactly one FILE');
  const limit = intOption(parsed, 'limit', 5, 'data inspect');
  if (limit < 0) throw new Error(`data inspect: --limit must be >= 0, got ${limit}`);
  const table = await readParquet(file);
  const rows = table.rows.slice(0, limit);
  if (parsed.options.json) {
    console.log(json({ file, numRows: table.rows.length, columns: table.columns, rows }));
    return 0;
  }
  console.log(`${file}: ${table.rows.length} rows`);
  for (const c of table.columns) console.log(`  ${c.name}: ${typeName(c.type)}`);
  rows.forEach((r, i) => console.log(`--- row ${i}\n${json(r, 2)}`));
  return 0;
}

export const dataCommand: Command = {
  summary: 'generate veRL parquet datasets (countdown, multiply, arith, digit-completion) or inspect one',
  usage: USAGE,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (!sub || sub === '--help' || sub === '-h') {
      console.log(USAGE);
      return sub ? 0 : 2;
    }
    if (sub === 'inspect') return inspect(rest);
    if ((DATASET_TASKS as readonly string[]).includes(sub)) return generate(sub as DatasetTask, rest);
    throw new Error(`data: unknown task '${sub}'. Expected one of ${[...DATASET_TASKS, 'inspect'].join(', ')}`);
  },
};
