/**
 * defaults (schema.ts) ← YAML file ← command-line overrides, then `${...}` links, types and
 * cross-field rules: every problem is reported at once, before the trainer does any work.
 */
import { crossFieldErrors } from './checks.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { resolveInterpolations } from './interpolate.js';
import { applyOverride, mergeFile, type MergeContext } from './merge.js';
import { parseOverride, type Override } from './overrides.js';
import { defaultsTree, lookup } from './tree.js';
import type { TinyZeroConfig, YamlValue } from './types.js';
import { typeCheck } from './validate.js';
import { parseYaml, readYamlFile } from './yaml-io.js';

export interface ResolveOptions {
  /** a YAML config file; may be partial */
  file?: string;
  /** YAML text instead of (or after) `file`, e.g. from a test */
  yaml?: string;
  /** Hydra overrides, verbatim: `key.path=value`, `+key=value`, `~key` */
  overrides?: readonly string[];
}

export function resolveConfig(options: ResolveOptions = {}): TinyZeroConfig {
  const ctx: MergeContext = { tree: defaultsTree(), problems: [], sources: new Map() };
  if (options.file !== undefined) layerYaml(ctx, () => readYamlFile(options.file!), `file ${options.file}`);
  if (options.yaml !== undefined) layerYaml(ctx, () => parseYaml(options.yaml!, 'yaml text'), 'yaml text');
  for (const arg of options.overrides ?? []) {
    let ov: Override;
    try {
      ov = parseOverride(arg);
    } catch (e) {
      ctx.problems.push({ key: arg, message: (e as Error).message });
      continue;
    }
    applyOverride(ctx, ov);
  }
  const resolved = resolveInterpolations(ctx.tree, ctx.problems);
  // a key whose link failed would also fail its type check; report it once
  const reported = new Set(ctx.problems.map((p) => p.key));
  const typeProblems: ConfigProblem[] = [];
  const config = typeCheck(resolved, typeProblems, ctx.sources);
  const typeKeys = new Set(typeProblems.map((p) => p.key));
  ctx.problems.push(...typeProblems.filter((p) => !reported.has(p.key) && !followsBadLink(p, typeKeys)));
  if (ctx.problems.length === 0) ctx.problems.push(...crossFieldErrors(config));
  if (ctx.problems.length > 0) throw new ConfigError(ctx.problems);
  return config;
}

/**
 * A key the user did not set whose default is a whole link to a key already reported (bad
 * `data.max_response_length` also makes `rollout.response_length` bad): one line for the cause.
 */
function followsBadLink(p: ConfigProblem, reportedKeys: ReadonlySet<string>): boolean {
  if (p.source !== undefined) return false;
  const found = lookup(p.key.split('.'));
  const def = found.kind === 'leaf' ? found.leaf.defaultValue : undefined;
  const link = typeof def === 'string' ? /^\$\{([^${}]+)\}$/.exec(def.trim()) : null;
  return link !== null && reportedKeys.has(link[1]!.trim());
}

function layerYaml(ctx: MergeContext, read: () => YamlValue, source: string): void {
  let value: YamlValue;
  try {
    value = read();
  } catch (e) {
    ctx.problems.push({ key: '(file)', message: (e as Error).message, source });
    return;
  }
  mergeFile(ctx, value, source);
}

let defaults: TinyZeroConfig | undefined;

/** TinyZero's ppo_trainer.yaml with links resolved; a fresh copy each call. */
export function defaultConfig(): TinyZeroConfig {
  defaults ??= resolveConfig();
  return structuredClone(defaults);
}
