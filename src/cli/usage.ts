/**
 * Help text for a subcommand, built from the same option table its parser uses, so that `--help`
 * cannot drift from the options the command accepts.
 */
import type { OptionSpec } from './args.js';

export interface UsageSpec {
  /** `tinyzero train [--config FILE.yaml] [key.path=value ...]`, one line per form. */
  synopsis: string[];
  /** One paragraph on what the command does. */
  description: string;
  options?: Record<string, OptionSpec>;
  /** Examples or notes printed last. */
  notes?: string[];
}

export function formatUsage(u: UsageSpec): string {
  const lines = u.synopsis.map((s, i) => `${i === 0 ? 'usage: ' : '       '}${s}`);
  lines.push('', u.description);
  const options = Object.entries(u.options ?? {});
  if (options.length > 0) {
    lines.push('', 'options:');
    const names = options.map(([k, o]) => `--${k}${o.type === 'string' ? ' VALUE' : ''}`);
    const width = Math.max(...names.map((n) => n.length)) + 2;
    options.forEach(([, o], i) => lines.push(`  ${names[i]!.padEnd(width)}${o.help ?? ''}`.trimEnd()));
  }
  if (u.notes && u.notes.length > 0) lines.push('', ...u.notes);
  return lines.join('\n');
}

/** True when the arguments ask for help (`--help` or `-h` anywhere). */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}
