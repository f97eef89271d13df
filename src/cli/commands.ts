// The registry of subcommands. Each lives in its own file under src/cli/; add one line here per command.
import type { Command } from './command.js';
import { dataCommand } from './data.js';
import { demoCommand } from './demo.js';
import { generateCommand } from './generate.js';
import { scoreCommand } from './score.js';

export const commands: Record<string, Command> = {
  data: dataCommand,
  demo: demoCommand,
  generate: generateCommand,
  score: scoreCommand,
};
