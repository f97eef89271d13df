// The repository cites its own docs only: no references to material a user of the package does not
// have, every cited docs/verl-compat.md anchor exists, and no file outside the repository is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;
const SKIP = new Set(['node_modules', 'dist', '.git', 'assets', 'checkpoints']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (SKIP.has(name) || name.startsWith('.')) return [];
    return statSync(path).isDirectory() ? files(path) : /\.(ts|mjs|js|sh|md|yaml)$/.test(name) ? [path] : [];
  });
}

const tracked = [...['src', 'test', 'scripts', 'docs', 'examples', 'kernels'].flatMap((d) => files(join(root, d))), join(root, 'README.md')];
// Built from pieces so that this file does not match itself.
const forbidden = [new RegExp(['spec', ' §'].join('')), new RegExp(['qu', 'irk'].join(''), 'i'), new RegExp(['shared', '/spec'].join('')),
  new RegExp(['\\.\\./', 'shared'].join('')), new RegExp(['/wo', 'rk/'].join('')), new RegExp(['semantics', ' spec'].join('')),
  new RegExp(['spec', ' section'].join('')), new RegExp(['verl-', 'semantics'].join(''))];

test('no file cites the team\'s private spec, its section numbers or paths outside the repository', () => {
  assert.ok(tracked.length > 100, `found only ${tracked.length} files`);
  const hits: string[] = [];
  for (const file of tracked) {
    const rel = relative(root, file);
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      for (const re of forbidden) if (re.test(line)) hits.push(`${rel}:${i + 1}: ${line.trim().slice(0, 100)}`);
    });
  }
  assert.deepEqual(hits, []);
});

test('every docs/verl-compat.md#anchor cited in the code and docs exists', () => {
  const doc = readFileSync(join(root, 'docs/verl-compat.md'), 'utf8');
  const anchors = new Set([...doc.matchAll(/<a id="([a-z0-9-]+)"><\/a>/g)].map((m) => m[1]!));
  assert.ok(anchors.size >= 30, `${anchors.size} anchors`);
  let cited = 0;
  const missing: string[] = [];
  for (const file of tracked.filter((f) => !f.endsWith('citations.test.ts'))) {
    const text = readFileSync(file, 'utf8');
    // `docs/verl-compat.md#a, #b` cites a and b.
    for (const m of text.matchAll(/verl-compat\.md((?:#[a-z0-9-]+(?:, )?)+)/g)) {
      for (const id of m[1]!.split(/,\s*/).filter((s) => s !== '').map((s) => s.replace(/^#/, ''))) {
        cited++;
        if (!anchors.has(id)) missing.push(`${relative(root, file)}: #${id}`);
      }
    }
    if (file.endsWith('verl-compat.md')) {
      for (const m of text.matchAll(/\]\(#([a-z0-9-]+)\)/g)) if (!anchors.has(m[1]!)) missing.push(`docs/verl-compat.md: link #${m[1]}`);
    }
  }
  assert.ok(cited >= 30, `only ${cited} citations found`);
  assert.deepEqual(missing, []);
});
