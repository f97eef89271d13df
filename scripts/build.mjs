// `npm run build`: the WebAssembly kernels, then the TypeScript. Says what it builds, so the first
// minutes of `npm start` on a fresh checkout are not silent.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'scripts', 'build-kernels.mjs')], { stdio: 'inherit' });
// The Node code, then the dashboard's browser script (DOM types, kept out of the Node build).
for (const [what, project] of [['TypeScript (tsc -p tsconfig.json -> dist/)', 'tsconfig.json'], ['dashboard page script (tsc -p tsconfig.client.json)', 'tsconfig.client.json']]) {
  const t0 = performance.now();
  process.stderr.write(`build: ${what} ... `);
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, project)], { stdio: 'pipe' });
  } catch (e) {
    // tsc reports type errors on stdout; they follow the line above, which they end.
    process.stderr.write(`failed\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    process.exit(1);
  }
  process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
