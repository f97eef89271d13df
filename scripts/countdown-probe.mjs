// What a Countdown model does in its <think> part: how often the arithmetic it writes is right, how
// often its checks (`yes`/`no`) are right, how many tries it makes, whether its answer follows a passed
// check, and its accuracy. For judging a base model before RL and a checkpoint after it.
// Usage: npm run build && node scripts/countdown-probe.mjs MODEL_DIR [--temperature T] [--n N] [--problems P] [--data FILE.parquet] [--max-number M] [--samples K]
// MODEL_DIR is a Hugging Face folder: the bundled base or a run's global_step_N/actor. Temperature 0 =
// greedy (the default). Problems are fresh 3-number ones with numbers in [1, M] (default 100, as the
// bundled corpus and data draw them; seed 12345), or the first P rows of a veRL parquet file (--data,
// e.g. the held-out assets/data/countdown-3/test.parquet).
// --samples K prints the first K responses.
//
// A try is a run of steps `a op b=c` ending in ` yes.` or ` no.`; its value is the last step's result,
// or, where the last step is the check by distance (`57-50=7`: one operand is the target), the step's
// before it. A verdict is right when it says yes exactly when that value is the target.
import { createBackend } from '../dist/src/backend/index.js';
import { setBackend } from '../dist/src/tensor/index.js';
import { loadCausalLM } from '../dist/src/models/load.js';
import { loadTokenizer } from '../dist/src/tokenizer/load.js';
import { generate } from '../dist/src/generation/index.js';
import { readParquet } from '../dist/src/data/index.js';
import { Prng } from '../dist/src/util/prng.js';
import { generateCountdown, countdownPrompt, computeScore } from '../dist/src/tasks/countdown.js';

const USAGE = 'usage: node scripts/countdown-probe.mjs MODEL_DIR [--temperature T] [--n N] [--problems P] [--data FILE.parquet] [--max-number M] [--samples K]';
const argv = process.argv.slice(2);
const dir = argv[0];
if (!dir || dir.startsWith('--')) throw new Error(USAGE);
const KNOWN = new Set(['temperature', 'n', 'problems', 'data', 'samples', 'max-new-tokens', 'max-number']);
for (let i = 1; i < argv.length; i += 2) {
  if (!argv[i].startsWith('--') || !KNOWN.has(argv[i].slice(2)) || argv[i + 1] === undefined) throw new Error(`countdown-probe: unexpected '${argv[i]}'\n${USAGE}`);
}
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a non-negative number, got ${argv[i + 1]}`);
  return value;
};
const temperature = option('temperature', 0);
const n = option('n', 1);
const count = option('problems', 128);
const samples = option('samples', 0);
const maxNewTokens = option('max-new-tokens', 192);
const maxNumber = option('max-number', 100);
const dataIndex = argv.indexOf('--data');
const dataFile = dataIndex >= 0 ? argv[dataIndex + 1] : null;

let problems;
if (dataFile) {
  const table = await readParquet(dataFile);
  problems = table.rows.slice(0, count).map((r, i) => {
    const gt = r.reward_model?.ground_truth;
    if (!gt || gt.target === undefined || !Array.isArray(gt.numbers)) throw new Error(`${dataFile}: row ${i} has no reward_model.ground_truth {target, numbers}`);
    return { target: Number(gt.target), nums: gt.numbers.map(Number) };
  });
} else {
  const rng = new Prng(12345);
  problems = Array.from({ length: count }, () => generateCountdown(rng, { minNumbers: 3, maxNumbers: 3, minNumber: 1, maxNumber }));
}

const backend = await createBackend('cpu', {});
setBackend(backend);
const model = loadCausalLM(dir, { backend });
const tokenizer = loadTokenizer(dir);
const prompts = problems.map((p) => tokenizer.encode(countdownPrompt(p, 'base'), { addSpecialTokens: false }));
const out = await generate(model, prompts, {
  maxNewTokens, n, seed: 1, temperature: temperature || 1, topK: temperature ? -1 : 1,
});

const apply = (x, op, y) => (op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y);
const TRY = /((?:\d+[-+*/]\d+=\d+, )*\d+[-+*/]\d+=\d+) (yes|no)\./g;
const STEP = /^(\d+)([-+*/])(\d+)=(\d+)$/;
const tally = {
  steps: 0, wrongSteps: 0, tries: 0, rightVerdicts: 0, yes: 0, trueYes: 0, solved: 0, tokens: 0,
  answered: 0, answerAfterYes: 0, answerAfterTrueYes: 0, withTrueYes: 0,
};
for (let row = 0; row < out.rows; row++) {
  const problem = problems[Math.floor(row / n)];
  const ids = Array.from(out.responseIds.subarray(row * out.width, row * out.width + out.lengths[row]));
  const text = tokenizer.decode(ids, { skipSpecialTokens: true });
  if (row < samples) console.log(`--- ${JSON.stringify(problem)}\n${text}`);
  tally.tokens += out.lengths[row];
  if (computeScore(`Assistant:${text}`, { target: problem.target, numbers: problem.nums }) === 1) tally.solved++;
  const [think, ...after] = text.split('</think>');
  const tries = [...think.matchAll(TRY)].map((m) => {
    const steps = m[1].split(', ').map((s) => STEP.exec(s)).map((s) => ({ x: Number(s[1]), op: s[2], y: Number(s[3]), v: Number(s[4]) }));
    const last = steps.at(-1);
    const distance = steps.length >= 2 && last.op === '-' && (last.x === problem.target || last.y === problem.target);
    return { steps, verdict: m[2], value: distance ? steps.at(-2).v : last.v };
  });
  for (const t of tries) {
    tally.tries++;
    for (const s of t.steps) {
      tally.steps++;
      if (apply(s.x, s.op, s.y) !== s.v) tally.wrongSteps++;
    }
    if ((t.verdict === 'yes') === (t.value === problem.target)) tally.rightVerdicts++;
    if (t.verdict === 'yes') {
      tally.yes++;
      if (t.value === problem.target) tally.trueYes++;
    }
  }
  if (tries.some((t) => t.verdict === 'yes' && t.value === problem.target)) tally.withTrueYes++;
  if (after.length > 0 && tries.length > 0) {
    tally.answered++;
    const last = tries.at(-1);
    if (last.verdict === 'yes') {
      tally.answerAfterYes++;
      if (last.value === problem.target) tally.answerAfterTrueYes++;
    }
  }
}
const share = (a, b) => (b === 0 ? null : Number((a / b).toFixed(4)));
console.log(JSON.stringify({
  model: dir, data: dataFile ?? 'fresh', temperature, n, responses: out.rows,
  accuracy: share(tally.solved, out.rows),
  // the accuracy a policy that answered at its first passed check would have on these same tries
  responsesWithTrueYes: share(tally.withTrueYes, out.rows),
  triesPerResponse: share(tally.tries, out.rows),
  stepAccuracy: share(tally.steps - tally.wrongSteps, tally.steps),
  verdictAccuracy: share(tally.rightVerdicts, tally.tries),
  yesPerResponse: share(tally.yes, out.rows),
  trueYesShare: share(tally.trueYes, tally.yes),
  // of the responses that close </think> after at least one try: the last try passed its check
  answerAfterYesShare: share(tally.answerAfterYes, tally.answered),
  answerAfterTrueYesShare: share(tally.answerAfterTrueYes, tally.answered),
  meanResponseTokens: share(tally.tokens, out.rows),
}));
backend.destroy();
