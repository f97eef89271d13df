// Runs every compiled test file under dist/test with Node's test runner.
// Arguments filter the files by substring: `node scripts/run-tests.mjs tensor rl`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = collect('dist/test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Mesa's lavapipe where scripts/lavapipe.sh unpacked it: the tests of optional WebGPU features run
// on its Vulkan adapter (its libraries must be on the loader path before the process starts).
const env = { ...process.env };
const lavapipe = process.env.TINYZERO_LAVAPIPE_DIR ?? join(homedir(), '.cache', 'tinyzero', 'lavapipe');
if (existsSync(join(lavapipe, 'lvp_icd.json'))) {
  env.TINYZERO_LAVAPIPE_ICD = join(lavapipe, 'lvp_icd.json');
  const lib = join(lavapipe, 'usr', 'lib', 'x86_64-linux-gnu');
  env.LD_LIBRARY_PATH = env.LD_LIBRARY_PATH ? `${lib}:${env.LD_LIBRARY_PATH}` : lib;
} else {
  console.log(`(no lavapipe in ${lavapipe}: the WebGPU f16/subgroup tests skip unless the adapter has those features; scripts/lavapipe.sh unpacks it)`);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
