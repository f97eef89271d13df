/**
 * `tinyzero score --input FILE.jsonl [--output FILE]`: scores each line's `solution_str` against
 * its `ground_truth` with the reward that its `data_source` routes to. Output lines are the input
 * plus "score" (stdout without --output); bad lines are reported by number on stderr and skipped.
 *
 * It streams: one line in, one line out, so memory stays flat whatever the input's size (reading a
 * 525 MB file whole failed with `Invalid string length`). With --output the lines go to a temp file
 * beside it that is renamed over FILE only when every line was scored, so a failed run never leaves
 * a half-written FILE.
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs, stringOption } from './args.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';
import { parseJsonl, toJsonl } from '../data/index.js';
import { computeScore } from '../tasks/index.js';
import { AtomicLineWriter, StdoutLineWriter, type LineWriter } from './line-writer.js';

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
    try {
      if (statSync(input).isDirectory()) throw new Error('it is a folder, expected a JSONL file');
    } catch (e) {
      throw new Error(`score: cannot read --input '${input}': ${(e as Error).message}`);
    }
    const out: LineWriter = output ? new AtomicLineWriter(output) : new StdoutLineWriter();
    let scored = 0;
    let bad = 0;
    const skip = (line: number, why: string): void => {
      bad++;
      console.error(`${input}:${line}: skipped: ${why}`);
    };
    try {
      const lines = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
      let lineNo = 0;
      for await (const text of lines) {
        lineNo++;
        const row = scoreLine(text);
        if (row === null) continue;
        if ('error' in row) { skip(lineNo, row.error); continue; }
        if (!(await out.write(toJsonl([row.value])))) break; // stdout's reader went away
        scored++;
      }
      await out.finish();
    } catch (e) {
      await out.abort();
      throw new Error(`score: ${input}: ${(e as Error).message}`);
    }
    if (output) console.error(`wrote ${output}: ${scored} scored, ${bad} skipped`);
    return 0;
  },
};

/** One input line: null when blank, the output row, or why it is skipped. */
function scoreLine(text: string): { value: Record<string, unknown> } | { error: string } | null {
  const entry = parseJsonl(text)[0];
  if (!entry) return null;
  if ('error' in entry) return { error: entry.error };
  const { data_source: dataSource, solution_str: solutionStr, ground_truth: groundTruth } = entry.value;
  if (typeof dataSource !== 'string') return { error: `"data_source" must be a string, got ${JSON.stringify(dataSource)}` };
  if (typeof solutionStr !== 'string') return { error: `"solution_str" must be a string, got ${JSON.stringify(solutionStr)}` };
  if (!('ground_truth' in entry.value)) return { error: 'missing "ground_truth"' };
  try {
    return { value: { ...entry.value, score: computeScore(dataSource, solutionStr, groundTruth) } };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
