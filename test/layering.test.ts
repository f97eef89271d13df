import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkImport, checkTree, findImports, layerOf, type KnownException } from './helpers/layering.js';
import { repoRoot } from './helpers/assets.js';

/** Upward imports that remain, each with why it is not fixed yet. Keep this list empty where possible. */
const KNOWN: readonly KnownException[] = [];

test('findImports sees static, type-only, re-exporting and dynamic imports, and skips comments', () => {
  const source = [
    "import { a } from './a.js';",
    "import type { B } from '../b/b.js';",
    "export { c } from './c.js';",
    "export * from '../d/index.js';",
    "const e = await import('./e.js');",
    "// import { f } from './f.js';",
    "/* export * from './g.js'; */",
    "import 'node:fs';",
  ].join('\n');
  assert.deepEqual(findImports(source).sort(), ['../b/b.js', '../d/index.js', './a.js', './c.js', './e.js', 'node:fs'].sort());
});

test('layerOf maps files to layers, the backend contract apart from the backends', () => {
  assert.equal(layerOf('backend/backend.ts')?.name, 'backend contract');
  assert.equal(layerOf('backend/cpu/cpu-backend.ts')?.name, 'backend');
  assert.equal(layerOf('tensor/ops/matmul.ts')?.name, 'tensor');
  assert.equal(layerOf('index.ts')?.name, 'package entry');
  assert.equal(layerOf('nowhere/x.ts'), null);
});

test('checkImport fails an upward import, naming the file, the import and the rule', () => {
  const problem = checkImport('tensor/tensor.ts', '../models/dtype.js');
  assert.equal(problem, "src/tensor/tensor.ts imports '../models/dtype.js': tensor may not import models, a layer above it (imports point down only)");
  assert.match(checkImport('backend/backend.ts', '../tensor/tensor.js') ?? '', /backend contract may not import tensor/);
  assert.match(checkImport('tasks/x.ts', '../data/index.js') ?? '', /tasks may not import data/);
  assert.match(checkImport('sft/checkpoint.ts', '../trainer/checkpoint.js') ?? '', /jobs .* may not import each other \(sft -> trainer\)/);
  assert.match(checkImport('util/x.ts', '../../scripts/y.mjs') ?? '', /outside src/);
  assert.match(checkImport('cli/x.ts', '../nowhere/y.js') ?? '', /in no layer/);
});

test('checkImport allows downward, same-layer and package imports', () => {
  assert.equal(checkImport('tensor/tensor.ts', '../backend/backend.js'), null);
  assert.equal(checkImport('tensor/ops/creation.ts', '../../util/float16.js'), null);
  assert.equal(checkImport('trainer/fit.ts', './rollout.js'), null);
  assert.equal(checkImport('cli/bench.ts', '../bench/index.js'), null);
  assert.equal(checkImport('data/verl-dataset.ts', '../tasks/index.js'), null);
  assert.equal(checkImport('backend/cpu/pool.ts', 'node:worker_threads'), null);
});

test('checkTree reports a synthetic upward import in a source tree', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const src = mkdtempSync(join(tmpdir(), 'tinyzero-layers-'));
  mkdirSync(join(src, 'nn'));
  mkdirSync(join(src, 'rl'));
  writeFileSync(join(src, 'nn', 'bad.ts'), "import { ppo } from '../rl/loss.js';\nexport const x = ppo;\n");
  writeFileSync(join(src, 'rl', 'loss.ts'), "import { Linear } from '../nn/bad.js';\nexport const ppo = Linear;\n");
  const report = checkTree(src);
  assert.deepEqual(report.violations, ["src/nn/bad.ts imports '../rl/loss.js': nn may not import rl, a layer above it (imports point down only)"]);
  const excused = checkTree(src, [{ file: 'nn/bad.ts', specifier: '../rl/loss.js', reason: 'test' }, { file: 'rl/loss.ts', specifier: 'gone', reason: 'test' }]);
  assert.deepEqual(excused.violations, []);
  assert.deepEqual(excused.stale.map((k) => k.file), ['rl/loss.ts']);
});

test('every import in src/ points down the layers (README.md, "Layout")', () => {
  const report = checkTree(`${repoRoot}src`, KNOWN);
  assert.ok(report.filesChecked > 100 && report.importsChecked > 500, `checked only ${report.filesChecked} files, ${report.importsChecked} imports`);
  assert.deepEqual(report.violations, []);
  assert.deepEqual(report.stale, [], 'known exceptions that no longer occur: remove them from KNOWN');
});
