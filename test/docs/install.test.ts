// `npm install` stays offline and quiet: no dependency runs an install script (onnxruntime-node's
// would download CUDA libraries), set with a key npm knows, so it prints no unknown-config warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const root = new URL('../../../', import.meta.url).pathname;

test('.npmrc turns install scripts off with npm\'s own ignore-scripts key and nothing else', () => {
  const keys = readFileSync(`${root}.npmrc`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  assert.deepEqual(keys, ['ignore-scripts=true']);
});

test('the dependencies with install scripts are the two known ones, neither needed for a run', () => {
  const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
  const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript === true).map(([name]) => name).sort();
  // onnxruntime-node: fetches CUDA providers on linux/x64 (the benchmark uses the CPU one it ships);
  // webgpu: clears macOS's quarantine flag on dawn.node. A new one must be judged and listed here.
  assert.deepEqual(withScripts, ['node_modules/onnxruntime-node', 'node_modules/webgpu']);
});

test('the build runs from npm scripts, which ignore-scripts does not stop', () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.build, 'node scripts/build.mjs');
  assert.match(pkg.scripts.start!, /^npm run build --silent && /);
  assert.match(pkg.scripts.test!, /^npm run build --silent && /);
});
