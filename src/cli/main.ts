#!/usr/bin/env node
// The `tinyzero` command: dispatches to one module per subcommand.
import { commands } from './commands.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    printHelp();
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    console.error(`tinyzero: unknown command '${name}'. Commands: ${Object.keys(commands).join(', ')}`);
    return 2;
  }
  return await command.run(rest);
}

function printHelp(): void {
  console.log('usage: tinyzero <command> [options]\n\ncommands:');
  for (const [name, c] of Object.entries(commands)) console.log(`  ${name.padEnd(12)} ${c.summary}`);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    console.error(`tinyzero: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
