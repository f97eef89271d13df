/**
 * A small argument parser shared by the subcommands: `--key value`, `--key=value`, boolean `--flag`,
 * and positionals. Unknown options are an error that names the option and lists the valid ones.
 */
export interface OptionSpec {
  /** 'string' takes a value; 'boolean' is a flag. */
  type: 'string' | 'boolean';
  /** Short description for the help text. */
  help?: string;
}

export interface ParsedArgs {
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseArgs(args: string[], spec: Record<string, OptionSpec>, command: string): ParsedArgs {
  const options: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = arg.slice(2, eq < 0 ? undefined : eq);
    const opt = spec[key];
    if (!opt) {
      throw new Error(`${command}: unknown option '--${key}'. Valid options: ${Object.keys(spec).map((k) => `--${k}`).join(', ')}`);
    }
    if (opt.type === 'boolean') {
      if (eq >= 0) throw new Error(`${command}: option '--${key}' is a flag and takes no value`);
      options[key] = true;
    } else if (eq >= 0) {
      options[key] = arg.slice(eq + 1);
    } else {
      const value = args[++i];
      if (value === undefined) throw new Error(`${command}: option '--${key}' needs a value`);
      options[key] = value;
    }
  }
  return { options, positionals };
}

/** Reads an integer option, failing with a message that names the option and the value. */
export function intOption(parsed: ParsedArgs, key: string, fallback: number, command: string): number {
  const raw = parsed.options[key];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(value)) {
    throw new Error(`${command}: option '--${key}' expects an integer, got '${String(raw)}'`);
  }
  return value;
}

/** Reads a float option, failing with a message that names the option and the value. */
export function floatOption(parsed: ParsedArgs, key: string, fallback: number, command: string): number {
  const raw = parsed.options[key];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value)) {
    throw new Error(`${command}: option '--${key}' expects a number, got '${String(raw)}'`);
  }
  return value;
}

export function stringOption(parsed: ParsedArgs, key: string): string | undefined {
  const raw = parsed.options[key];
  return typeof raw === 'string' ? raw : undefined;
}
