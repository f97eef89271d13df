// `npm run make-base`: rebuilds assets/models/countdown-base from scratch in three SFT phases
// (docs/countdown-demo.md). Writes the synthetic corpus (three parts, seeds 1-3) and the untrained model
// folder into build/countdown-base/, then:
//  - phase 1, `tinyzero sft --config examples/countdown-base-sft.yaml`: 1600 steps of 32 from scratch,
//    saved in BF16 as build/countdown-base/phase1;
//  - phase 2, `examples/countdown-base-sft-2.yaml`: 800 steps of 32 on fresh rows at a lower LR, saved
//    as build/countdown-base/phase2;
//  - phase 3: phase 2's model with the stop-in-verdict tokens added (` yes. </think>`, ` no. </think>`),
//    `examples/countdown-base-sft-3.yaml`: 400 steps of 32 on fresh rows, saved as the bundled model.
// Resumable: a phase continues from its latest checkpoint, and a saved phase1 or phase2 is not redone.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeCorpus, writeInitModel, extendWithStopInVerdict } from '../dist/src/sft/countdown-base-recipe.js';
import { listSftCheckpoints } from '../dist/src/sft/index.js';
import { loadCausalLM, saveModel } from '../dist/src/models/load.js';
import { createBackend } from '../dist/src/backend/index.js';
import { setBackend } from '../dist/src/tensor/index.js';

const PHASE1_ROWS = 32 * 1600; // one epoch = 1600 steps of 32
const PHASE2_ROWS = 32 * 800;
const PHASE3_ROWS = 32 * 400;
const PHASE3_STOP_CHANCES = [0.6, 0.3]; // greedy decoding stops after one try; a sampled response that goes on makes several
const VAL_ROWS = 512;
const root = 'build/countdown-base';
const phase1 = join(root, 'phase1');
const phase2 = join(root, 'phase2');
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
if (!existsSync(join(root, 'corpus3', 'train.jsonl'))) {
  writeCorpus(join(root, 'corpus3'), PHASE3_ROWS, VAL_ROWS, 3, { stopChances: PHASE3_STOP_CHANCES });
  console.log(`wrote the phase-3 corpus: ${PHASE3_ROWS} + ${VAL_ROWS} rows in ${root}/corpus3`);
}
if (!existsSync(join(phase1, 'model.safetensors'))) {
  writeInitModel(join(root, 'init'), undefined, { stopInVerdict: false });
  sft('examples/countdown-base-sft.yaml');
  await saveLast(join(root, 'sft'), phase1);
}
if (!existsSync(join(phase2, 'model.safetensors'))) {
  sft('examples/countdown-base-sft-2.yaml');
  await saveLast(join(root, 'sft2'), phase2);
}
if (!existsSync(join(root, 'phase3-init', 'model.safetensors'))) extendWithStopInVerdict(phase2, join(root, 'phase3-init'));
sft('examples/countdown-base-sft-3.yaml');
await saveLast(join(root, 'sft3'), out);
