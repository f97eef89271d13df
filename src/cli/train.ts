/**
 * `tinyzero train [--config FILE.yaml] [key.path=value ...]`: veRL's main_ppo with its override
 * syntax verbatim. The config is resolved and validated before any work, printed (what differs
 * from TinyZero's defaults) and saved beside the run.
 */
import { configDiff, formatConfigDiff, resolveConfig } from '../config/index.js';
import { accuracyLines, behaviorLines, STORY_FILE, train } from '../trainer/index.js';
import type { Command } from './command.js';
import { formatUsage } from './usage.js';

/** The options train and sft share; the rest of their arguments are `key.path=value` overrides. */
export const configCommandOptions = {
  config: { type: 'string' as const, help: 'YAML config (-c FILE); keys missing from it keep TinyZero\'s defaults' },
  quiet: { type: 'boolean' as const, help: 'no progress line on stderr (the step lines still print)' },
};

/** Splits `--config FILE`, `--quiet` and overrides; `command` names the command in errors. */
export function splitTrainArgs(args: string[], command = 'train'): { file?: string; overrides: string[]; quiet: boolean } {
  let file: string | undefined;
  let quiet = false;
  const overrides: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config' || a === '-c') {
      file = args[++i];
      if (!file) throw new Error(`${command}: --config needs a file`);
    } else if (a.startsWith('--config=')) {
      file = a.slice('--config='.length);
    } else if (a === '--quiet') {
      quiet = true;
    } else if (a.startsWith('--')) {
      throw new Error(`${command}: unknown option '${a}'. Use --config FILE.yaml and key.path=value overrides (tinyzero ${command} --help)`);
    } else {
      overrides.push(a);
    }
  }
  return { file, overrides, quiet };
}

export { accuracyLines, behaviorLines };

/** The last training step's mean reward and response length. */
export function lastStepLine(m: Record<string, number> | null): string {
  if (!m || m['critic/score/mean'] === undefined) return '';
  const len = m['response_length/mean'];
  return `  last training step: mean reward ${m['critic/score/mean'].toFixed(3)}${len === undefined ? '' : `, mean response length ${len.toFixed(1)} tokens`}\n`;
}

export const trainCommand: Command = {
  summary: 'PPO/GRPO training (--config FILE.yaml, key.path=value overrides as in veRL)',
  usage: formatUsage({
    synopsis: ['tinyzero train [--config FILE.yaml] [--quiet] [key.path=value ...]'],
    description: 'PPO/GRPO training, veRL\'s main_ppo: the config is TinyZero\'s defaults, then the YAML file, then the ' +
      'overrides in veRL\'s syntax (+key=value adds a key, lists as [a,b], null, 1e-6). It is checked before any work, ' +
      'printed as its differences from the defaults and saved beside the run (trainer.default_local_dir) with ' +
      'metrics.jsonl, events.jsonl and checkpoints; the same command resumes a stopped run.',
    options: configCommandOptions,
    notes: [
      'examples:',
      '  tinyzero train --config examples/countdown-tiny.yaml',
      '  tinyzero train --config examples/digit-completion-grpo.yaml trainer.total_training_steps=20 trainer.seed=2',
      'Every key, its default and veRL\'s meaning: docs/verl-compat.md. Watch a run: tinyzero dashboard --run DIR.',
      'The greedy responses to the first 3 validation problems before training and after the last step, with the accuracy and',
      'the task\'s behaviour metrics (behavior/*, docs/countdown-demo.md) before -> after, go to the run folder\'s story.md and summary.json.',
    ],
  }),
  async run(args) {
    const { file, overrides, quiet } = splitTrainArgs(args, 'train');
    const config = resolveConfig({ file, overrides });
    const diff = formatConfigDiff(configDiff(config));
    process.stderr.write(`config${file ? ` (${file})` : ''}, differences from TinyZero's defaults:\n${diff.map((l) => `  ${l}`).join('\n')}\n`);
    const summary = await train(config, { progress: !quiet });
    // The message was printed: the folder's run had already trained these steps.
    if (summary.alreadyFinished) return 0;
    const fmt = (m: Record<string, number> | null): string =>
      m ? Object.entries(m).filter(([k]) => k.startsWith('val/')).map(([k, v]) => `${k}:${v.toFixed(3)}`).join(' ') : 'n/a';
    // A resumed run has no validation of its own before training: its story's before-state, saved at step 0, stands in.
    const before = summary.initialValidation ?? summary.story?.before?.metrics ?? null;
    process.stderr.write(
      `\ndone: steps ${summary.firstStep}-${summary.lastStep}${summary.resumedFrom !== null ? ` (resumed from step ${summary.resumedFrom})` : ''} ` +
      `in ${summary.seconds.toFixed(1)} s (${(summary.seconds / 60).toFixed(1)} min)\n` +
      accuracyLines(before, summary.finalValidation) +
      behaviorLines(before, summary.finalValidation) +
      lastStepLine(summary.lastMetrics) +
      `  validation before: ${fmt(before)}\n  validation after:  ${fmt(summary.finalValidation)}\n` +
      (summary.story ? `  before and after: ${summary.runDir}/${STORY_FILE}\n` : '') +
      `  metrics: ${summary.runDir}/metrics.jsonl\n  checkpoint: ${summary.lastCheckpoint ?? 'none (trainer.save_freq <= 0)'}\n`,
    );
    return 0;
  },
};
