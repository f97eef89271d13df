/**
 * The package's layers (README.md, "Layout") and a checker for them: a module may import its own
 * layer and the layers below it, never one above, and the jobs (sft, trainer, serve) not each other.
 * Imports are found with TypeScript's own pre-processor, so `import`, `import type`, `export ... from`
 * and `import('...')` all count and commented-out imports do not.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import ts from 'typescript';

export interface Layer {
  readonly name: string;
  /** Higher imports lower; equal ranks of different layers may not import each other. */
  readonly rank: number;
  /** Paths relative to src/ (a folder ends with '/'); the longest match wins. */
  readonly paths: readonly string[];
}

/** Lowest first. Keep in step with README.md's layout section. */
export const LAYERS: readonly Layer[] = [
  { name: 'util', rank: 0, paths: ['util/'] },
  // The contract (types only) sits below tensor, which calls it; the implementations sit above.
  { name: 'backend contract', rank: 1, paths: ['backend/backend.ts'] },
  { name: 'tensor', rank: 2, paths: ['tensor/'] },
  { name: 'backend', rank: 3, paths: ['backend/'] },
  { name: 'nn', rank: 4, paths: ['nn/'] },
  { name: 'models', rank: 5, paths: ['models/'] },
  { name: 'tokenizer', rank: 6, paths: ['tokenizer/'] },
  { name: 'generation', rank: 7, paths: ['generation/'] },
  { name: 'rl', rank: 8, paths: ['rl/'] },
  { name: 'tasks', rank: 9, paths: ['tasks/'] },
  { name: 'data', rank: 10, paths: ['data/'] },
  { name: 'config', rank: 11, paths: ['config/'] },
  { name: 'tracking', rank: 12, paths: ['tracking/'] },
  { name: 'checkpoint', rank: 13, paths: ['checkpoint/'] },
  { name: 'sft', rank: 14, paths: ['sft/'] },
  { name: 'trainer', rank: 14, paths: ['trainer/'] },
  { name: 'serve', rank: 14, paths: ['serve/'] },
  { name: 'bench', rank: 15, paths: ['bench/'] },
  { name: 'cli', rank: 16, paths: ['cli/'] },
  { name: 'package entry', rank: 17, paths: ['index.ts'] },
];

/** The layer of a path relative to src/ ('/'-separated), or null for a path in no layer. */
export function layerOf(path: string): Layer | null {
  let best: { layer: Layer; length: number } | null = null;
  for (const layer of LAYERS) {
    for (const p of layer.paths) {
      const hit = p.endsWith('/') ? path.startsWith(p) : path === p;
      if (hit && (best === null || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  return best?.layer ?? null;
}

/** Every module specifier `source` imports or re-exports, statically or with a literal `import()`. */
export function findImports(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/**
 * Why importing `specifier` from `file` (a path relative to src/) breaks the layering, or null when
 * it does not. Package imports (`node:fs`, `yaml`) are always allowed.
 */
export function checkImport(file: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const from = layerOf(file);
  if (from === null) return `src/${file}: in no layer (add its folder to LAYERS and to README.md's layout)`;
  // NodeNext specifiers name the compiled .js file of a .ts source.
  const target = normalize(join(dirname(file), specifier)).split(sep).join('/').replace(/\.js$/, '.ts');
  const where = `src/${file} imports '${specifier}'`;
  if (target.startsWith('../')) return `${where}, outside src/: the package must not import files beside it`;
  const to = layerOf(target);
  if (to === null) return `${where} (src/${target}), which is in no layer`;
  if (to === from) return null;
  if (to.rank > from.rank) return `${where}: ${from.name} may not import ${to.name}, a layer above it (imports point down only)`;
  if (to.rank === from.rank) return `${where}: the jobs (sft, trainer, serve) may not import each other (${from.name} -> ${to.name}); share code through a layer below`;
  return null;
}

export interface KnownException {
  /** Path relative to src/. */
  readonly file: string;
  readonly specifier: string;
  readonly reason: string;
}

export interface TreeReport {
  /** Messages of violations not listed as known exceptions. */
  readonly violations: string[];
  /** Known exceptions that no longer occur (remove them from the list). */
  readonly stale: KnownException[];
  readonly filesChecked: number;
  readonly importsChecked: number;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Checks every .ts file under `srcDir`. */
export function checkTree(srcDir: string, known: readonly KnownException[] = []): TreeReport {
  const violations: string[] = [];
  const used = new Set<KnownException>();
  let importsChecked = 0;
  const files = tsFiles(srcDir);
  for (const path of files) {
    const file = relative(srcDir, path).split(sep).join('/');
    if (layerOf(file) === null) {
      violations.push(`src/${file}: in no layer (add its folder to LAYERS and to README.md's layout)`);
      continue;
    }
    for (const specifier of findImports(readFileSync(path, 'utf8'))) {
      importsChecked++;
      const problem = checkImport(file, specifier);
      if (problem === null) continue;
      const exception = known.find((k) => k.file === file && k.specifier === specifier);
      if (exception) used.add(exception);
      else violations.push(problem);
    }
  }
  return { violations, stale: known.filter((k) => !used.has(k)), filesChecked: files.length, importsChecked };
}
