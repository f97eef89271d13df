/**
 * `tinyzero sft --config FILE.yaml [key.path=value ...]`: causal-LM training (the `sft` section of
 * the config, plus trainer.{default_local_dir, seed, logger, device, threads, resume_mode}).
 */
import { resolveConfig } from '../config/index.js';
import { sft } from '../sft/index.js';
import type { Command } from './command.js';
import { configCommandOptions, splitTrainArgs } from './train.js';
import { formatUsage } from './usage.js';

export const sftCommand: Command = {
  summary: 'supervised causal-LM training on text or prompt/response pairs (--config FILE.yaml, key.path=value overrides)',
  usage: formatUsage({
    synopsis: ['tinyzero sft [--config FILE.yaml] [--quiet] [key.path=value ...]'],
    description: 'Supervised causal-LM training (the config\'s sft section, plus trainer.default_local_dir, seed, logger, ' +
      'device, threads and resume_mode) on text or prompt/response pairs from parquet or JSONL; the loss covers the ' +
      'response tokens only for pairs. Checkpoints go to global_step_N/model and a stopped run resumes.',
    options: configCommandOptions,
    notes: ['example: tinyzero sft --config examples/countdown-base-sft.yaml sft.total_steps=50'],
  }),
  async run(args) {
    const { file, overrides, quiet } = splitTrainArgs(args, 'sft');
    const config = resolveConfig({ file, overrides });
    const s = await sft(config, { progress: !quiet });
    if (s.alreadyFinished) return 0;
    process.stderr.write(
      `\ndone: sft steps ${s.firstStep}-${s.lastStep}${s.resumedFrom !== null ? ` (resumed from step ${s.resumedFrom})` : ''} in ${s.seconds.toFixed(1)} s\n` +
      `  train loss: ${s.losses.length > 0 ? `${s.losses[0]!.toFixed(4)} -> ${s.losses.at(-1)!.toFixed(4)}` : 'n/a'}` +
      `${s.finalValLoss !== null ? `, eval loss ${s.finalValLoss.toFixed(4)}` : ''}\n` +
      `  metrics: ${s.runDir}/metrics.jsonl\n  checkpoint: ${s.lastCheckpoint ?? 'none'} (model in its model/ folder)\n`,
    );
    return 0;
  },
};
