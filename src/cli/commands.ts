// The registry of subcommands. Each lives in its own file under src/cli/; add one line here per command.
import { benchCommand } from './bench.js';
import type { Command } from './command.js';
import { dashboardCommand } from './dashboard.js';
import { dataCommand } from './data.js';
import { demoCommand } from './demo.js';
import { generateCommand } from './generate.js';
import { initModelCommand } from './init-model.js';
import { mergeLoraCommand } from './merge-lora.js';
import { trainCommand } from './train.js';
import { scoreCommand } from './score.js';
import { serveCommand } from './serve.js';
import { sftCommand } from './sft.js';

export const commands: Record<string, Command> = {
  dashboard: dashboardCommand,
  bench: benchCommand,
  data: dataCommand,
  demo: demoCommand,
  generate: generateCommand,
  'merge-lora': mergeLoraCommand,
  'init-model': initModelCommand,
  train: trainCommand,
  score: scoreCommand,
  serve: serveCommand,
  sft: sftCommand,
};
