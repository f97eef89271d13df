#!/usr/bin/env node
// The `tinyzero` command: dispatches to one module per subcommand.
import { commands } from './commands.js';
import { wantsHelp } from './usage.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    printHelp();
    return name ? 0 : 1;
  }
  if (name === 'help') {
    const [topic, ...extra] = rest;
    if (topic === undefined) {
      printHelp();
      return 0;
    }
    const command = commands[topic];
    if (!command || extra.length > 0) {
      console.error(`tinyzero help: expected one command name (${Object.keys(commands).join(', ')}), got '${rest.join(' ')}'`);
      return 2;
    }
    console.log(command.usage);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`tinyzero: unknown command '${name}'. Commands: ${Object.keys(commands).join(', ')} (tinyzero --help describes them)`);
    return 2;
  }
  if (wantsHelp(rest)) {
    console.log(command.usage);
    return 0;
  }
  return await command.run(rest);
}

function printHelp(): void {
  console.log('usage: tinyzero <command> [options]\n\ncommands:');
  for (const [name, c] of Object.entries(commands)) console.log(`  ${name.padEnd(12)} ${c.summary}`);
  console.log('\n`tinyzero <command> --help` or `tinyzero help <command>` shows a command\'s options.');
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    console.error(`tinyzero: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
