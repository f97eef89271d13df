// Compiles the AssemblyScript kernels in kernels/ to two WebAssembly modules:
// one with relaxed SIMD (fused multiply-add) and one with plain SIMD128 as the fallback.
// Prints one line per module it compiles (each takes a while on a small machine); silent when
// both are newer than every kernel source.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'kernels', 'index.ts');
const outDir = join(root, 'dist', 'kernels');
if (!existsSync(entry)) process.exit(0);
mkdirSync(outDir, { recursive: true });

const newest = Math.max(...readdirSync(join(root, 'kernels')).map((f) => statSync(join(root, 'kernels', f)).mtimeMs));
const asc = join(root, 'node_modules', 'assemblyscript', 'bin', 'asc.js');
const common = ['-O3', '--runtime', 'stub', '--importMemory', '--sharedMemory', '--initialMemory', '2',
  '--maximumMemory', '65536', '--noAssert', '--memoryBase', '65536'];
const modules = [['simd', 'simd,threads'], ['relaxed', 'simd,relaxed-simd,threads']];
modules.forEach(([name, features], i) => {
  const out = join(outDir, `${name}.wasm`);
  if (existsSync(out) && statSync(out).mtimeMs > newest) return;
  const t0 = performance.now();
  process.stderr.write(`build: kernels ${i + 1}/${modules.length}: dist/kernels/${name}.wasm (AssemblyScript -O3, ${features}) ... `);
  execFileSync(process.execPath, [asc, entry, ...common, '--enable', features, '-o', out], { stdio: 'inherit' });
  process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
});
