// `npm run make-base`: rebuilds assets/models/countdown-base from scratch. Writes the synthetic
// corpus (two parts, seeds 1 and 2) and the untrained model folder into build/countdown-base/, runs
// `tinyzero sft --config examples/countdown-base-sft.yaml` (phase 1, from scratch) and
// `tinyzero sft --config examples/countdown-base-sft-2.yaml` (phase 2, from phase 1's last checkpoint),
// then saves phase 2's last checkpoint's model in BF16. Resumable: rerunning continues a phase from
// its latest checkpoint.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeCorpus, writeInitModel } from '../dist/src/sft/countdown-base-recipe.js';
import { listSftCheckpoints } from '../dist/src/sft/index.js';
import { loadCausalLM, saveModel } from '../dist/src/models/load.js';
import { createBackend } from '../dist/src/backend/index.js';
import { setBackend } from '../dist/src/tensor/index.js';

const TRAIN_ROWS = 32 * 800; // one epoch = 800 steps of 32
const VAL_ROWS = 512;
const root = 'build/countdown-base';
const out = 'assets/models/countdown-base';
const PHASE2_ROWS = 32 * 400; // 400 steps of 32
if (!existsSync(join(root, 'corpus', 'train.jsonl'))) {
  writeCorpus(join(root, 'corpus'), TRAIN_ROWS, VAL_ROWS, 1);
  console.log(`wrote the corpus: ${TRAIN_ROWS} + ${VAL_ROWS} rows in ${root}/corpus`);
}
if (!existsSync(join(root, 'corpus2', 'train.jsonl'))) {
  writeCorpus(join(root, 'corpus2'), PHASE2_ROWS, 16, 2);
  console.log(`wrote the phase-2 corpus: ${PHASE2_ROWS} rows in ${root}/corpus2`);
}
writeInitModel(join(root, 'init'));
for (const config of ['examples/countdown-base-sft.yaml', 'examples/countdown-base-sft-2.yaml']) {
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'sft', '--config', config, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const last = listSftCheckpoints(join(root, 'sft2')).at(-1);
if (!last) throw new Error('make-base: the SFT run left no checkpoint');
const backend = await createBackend('cpu', {});
setBackend(backend);
const model = loadCausalLM(join(last.dir, 'model'), { backend });
rmSync(out, { recursive: true, force: true });
await saveModel(model, out, { dtype: 'BF16', tokenizerFrom: join(last.dir, 'model') });
model.dispose();
backend.destroy();
console.log(`saved ${out} from ${last.dir}`);
