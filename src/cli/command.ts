/** One `tinyzero` subcommand. `run` gets the arguments after the command name and returns the exit code. */
export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}
