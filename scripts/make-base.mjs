// `npm run make-base`: rebuilds assets/models/countdown-base from scratch in two SFT phases. Writes the
// synthetic corpus (two parts, seeds 1 and 2) and the untrained model folder into build/countdown-base/,
// runs `tinyzero sft --config examples/countdown-base-sft.yaml` (phase 1: 1600 steps of 32 from scratch)
// and saves its last model in BF16 as build/countdown-base/phase1, then
// `tinyzero sft --config examples/countdown-base-sft-2.yaml` (phase 2: 800 steps of 32 on fresh rows,
// lower LR, from phase1) and saves phase 2's last model in BF16 as the bundled model. Resumable: a phase
// continues from its latest checkpoint, and an existing build/countdown-base/phase1 skips phase 1.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeCorpus, writeInitModel } from '../dist/src/sft/countdown-base-recipe.js';
import { listSftCheckpoints } from '../dist/src/sft/index.js';
import { loadCausalLM, saveModel } from '../dist/src/models/load.js';
import { createBackend } from '../dist/src/backend/index.js';
import { setBackend } from '../dist/src/tensor/index.js';

const PHASE1_ROWS = 32 * 1000; // one epoch = 1600 steps of 32
const PHASE2_ROWS = 32 * 400;
const VAL_ROWS = 512;
const root = 'build/countdown-base';
const phase1 = join(root, 'phase1');
const out = 'assets/models/countdown-base';

function sft(config) {
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'sft', '--config', config, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

async function saveLast(runDir, to) {
  const last = listSftCheckpoints(runDir).at(-1);
  if (!last) throw new Error(`make-base: the SFT run in ${runDir} left no checkpoint`);
  const backend = await createBackend('cpu', {});
  setBackend(backend);
  const model = loadCausalLM(join(last.dir, 'model'), { backend });
  rmSync(to, { recursive: true, force: true });
  await saveModel(model, to, { dtype: 'BF16', tokenizerFrom: join(last.dir, 'model') });
  model.dispose();
  backend.destroy();
  console.log(`saved ${to} from ${last.dir}`);
}

if (!existsSync(join(root, 'corpus', 'train.jsonl'))) {
  writeCorpus(join(root, 'corpus'), PHASE1_ROWS, VAL_ROWS, 1);
  console.log(`wrote the phase-1 corpus: ${PHASE1_ROWS} + ${VAL_ROWS} rows in ${root}/corpus`);
}
if (!existsSync(join(root, 'corpus2', 'train.jsonl'))) {
  writeCorpus(join(root, 'corpus2'), PHASE2_ROWS, 16, 2);
  console.log(`wrote the phase-2 corpus: ${PHASE2_ROWS} rows in ${root}/corpus2`);
}
if (!existsSync(join(phase1, 'model.safetensors'))) {
  writeInitModel(join(root, 'init'));
  sft('examples/countdown-base-sft.yaml');
  await saveLast(join(root, 'sft'), phase1);
}
sft('examples/countdown-base-sft-2.yaml');
await saveLast(join(root, 'sft2'), out);
