/** `tinyzero bench`: the performance suite of src/bench; writes a JSON report and prints a table. */
import { writeFileSync } from 'node:fs';
import { formatReport, formatRlStep, runBench, runRlStepBench } from '../bench/index.js';
import { intOption, parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';

const spec = {
  device: { type: 'string' as const, help: 'cpu or webgpu (default cpu)' },
  threads: { type: 'string' as const, help: 'pool threads (default: all cores, up to 8)' },
  model: { type: 'string' as const, help: 'model folder for the training step and decoding (default the bundled tiny-llama)' },
  out: { type: 'string' as const, help: 'JSON report file (default bench-results.json)' },
  quick: { type: 'boolean' as const, help: 'tiny sizes, one repetition: checks the plumbing, not the speed' },
  json: { type: 'boolean' as const, help: 'print only the JSON report to stdout' },
  'no-qwen': { type: 'boolean' as const, help: 'skip Qwen2.5-0.5B beside PyTorch (several minutes)' },
  'no-rl-step': { type: 'boolean' as const, help: 'skip the RL step on the recorded batch' },
  only: { type: 'string' as const, help: 'rl-step: run only the RL step (old log-probs + update_actor on a recorded batch, beside PyTorch)' },
  'rl-batch': { type: 'string' as const, help: 'recorded batch for the RL step (default assets/bench/countdown-step1.json.gz; scripts/record-rl-batch.mjs writes one)' },
  'rl-rows': { type: 'string' as const, help: 'replay only the first N rows of the recorded batch (default all; --quick: 16)' },
};
const SECTIONS = ['rl-step'];

// veRL's tiny test Llama, bundled with the package (dist/src/cli -> the package root).
const DEFAULT_MODEL = new URL('../../../assets/models/tiny-llama', import.meta.url);

export const benchCommand: Command = {
  summary: 'benchmark matmul, kernels, a training step, decoding and the RL step beside onnxruntime, tfjs and PyTorch',
  usage: formatUsage({
    synopsis: ['tinyzero bench [--device cpu|webgpu] [--threads N] [--model DIR] [--out FILE] [--quick] [--json]',
      'tinyzero bench --only rl-step [--rl-batch FILE] [--rl-rows N] [--threads N] [--out FILE] [--quick] [--json]'],
    description: 'Benchmarks matmul beside onnxruntime and tfjs, the fused kernels, a training step, batched decoding and ' +
      'the RL step (a recorded `npm start` batch through old log-probs and update_actor, beside PyTorch where installed); ' +
      'prints a table and writes the JSON report.',
    options: spec,
  }),
  async run(args) {
    const cmd = 'bench';
    const parsed = parseArgs(args, spec, cmd);
    const threads = parsed.options.threads === undefined ? undefined : intOption(parsed, 'threads', 1, cmd);
    const json = parsed.options.json === true;
    const only = stringOption(parsed, 'only');
    if (only !== undefined && !SECTIONS.includes(only)) throw new Error(`bench: --only takes ${SECTIONS.join(' or ')}, got '${only}'`);
    const options = {
      device: stringOption(parsed, 'device') ?? 'cpu',
      threads,
      quick: parsed.options.quick === true,
      model: stringOption(parsed, 'model') ?? DEFAULT_MODEL.pathname,
      qwen: parsed.options['no-qwen'] !== true,
      rlStep: parsed.options['no-rl-step'] !== true,
      rlBatch: stringOption(parsed, 'rl-batch'),
      rlRows: parsed.options['rl-rows'] === undefined ? undefined : intOption(parsed, 'rl-rows', 1, cmd),
      log: (line: string) => console.error(line),
    };
    let report: object;
    let summary: string;
    if (only === 'rl-step') {
      const r = await runRlStepBench(options);
      [report, summary] = [r, formatRlStep(r.rlStep)];
    } else {
      const r = await runBench(options);
      [report, summary] = [r, formatReport(r)];
    }
    const text = JSON.stringify(report, null, 2);
    if (json) console.log(text);
    else console.log(summary);
    const out = stringOption(parsed, 'out') ?? 'bench-results.json';
    writeFileSync(out, `${text}\n`);
    if (!json) console.log(`\nreport written to ${out}`);
    return 0;
  },
};
