/**
 * `tinyzero score --input FILE.jsonl [--output FILE]`: scores each line's `solution_str` against
 * its `ground_truth` with the reward that its `data_source` routes to. Output lines are the input
 * plus "score" (stdout without --output); bad lines are reported by number on stderr and skipped.
 */
import { parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';
import { readJsonl, toJsonl, writeJsonl } from '../data/index.js';
import { computeScore } from '../tasks/index.js';

const spec = {
  input: { type: 'string' as const, help: 'JSONL file, one {data_source, solution_str, ground_truth} object a line' },
  output: { type: 'string' as const, help: 'JSONL file to write (default: stdout)' },
};

export const scoreCommand: Command = {
  summary: 'score JSONL lines {data_source, solution_str, ground_truth} with TinyZero\'s rewards',
  usage: formatUsage({
    synopsis: ['tinyzero score --input FILE.jsonl [--output FILE.jsonl]'],
    description: 'Scores each line\'s solution_str against its ground_truth with the reward its data_source routes to; ' +
      'writes the input lines plus "score". Bad lines are reported by line number on stderr and skipped.',
    options: spec,
  }),
  async run(args: string[]): Promise<number> {
    const parsed = parseArgs(args, spec, 'score');
    const input = stringOption(parsed, 'input');
    if (!input) throw new Error('score: --input FILE.jsonl is required');
    const output = stringOption(parsed, 'output');
    const scored: Record<string, unknown>[] = [];
    let bad = 0;
    const skip = (line: number, why: string): void => {
      bad++;
      console.error(`${input}:${line}: skipped: ${why}`);
    };
    for (const entry of readJsonl(input)) {
      if ('error' in entry) {
        skip(entry.line, entry.error);
        continue;
      }
      const { data_source: dataSource, solution_str: solutionStr, ground_truth: groundTruth } = entry.value;
      if (typeof dataSource !== 'string') { skip(entry.line, `"data_source" must be a string, got ${JSON.stringify(dataSource)}`); continue; }
      if (typeof solutionStr !== 'string') { skip(entry.line, `"solution_str" must be a string, got ${JSON.stringify(solutionStr)}`); continue; }
      if (!('ground_truth' in entry.value)) { skip(entry.line, 'missing "ground_truth"'); continue; }
      try {
        scored.push({ ...entry.value, score: computeScore(dataSource, solutionStr, groundTruth) });
      } catch (e) {
        skip(entry.line, (e as Error).message);
      }
    }
    if (output) {
      writeJsonl(output, scored);
      console.error(`wrote ${output}: ${scored.length} scored, ${bad} skipped`);
    } else {
      process.stdout.write(toJsonl(scored));
    }
    return 0;
  },
};
