/**
 * One `tinyzero` subcommand. `run` gets the arguments after the command name and returns the exit
 * code; `usage` is the text `tinyzero CMD --help` and `tinyzero help CMD` print.
 */
export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}
