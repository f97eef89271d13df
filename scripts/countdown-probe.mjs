// What a Countdown model does in its <think> part: how often the arithmetic it writes is right, how
// often its `yes` checks are true, and its accuracy. For judging a base model before RL.
// Usage: npm run build && node scripts/countdown-probe.mjs MODEL_DIR [--temperature T] [--n N] [--problems P]
// (temperature 0 = greedy, the default; problems are fresh 3-number ones from seed 12345).
import { createBackend } from '../dist/src/backend/index.js';
import { setBackend } from '../dist/src/tensor/index.js';
import { loadCausalLM } from '../dist/src/models/load.js';
import { loadTokenizer } from '../dist/src/tokenizer/load.js';
import { generate } from '../dist/src/generation/index.js';
import { Prng } from '../dist/src/util/prng.js';
import { generateCountdown, countdownPrompt, computeScore } from '../dist/src/tasks/countdown.js';

const argv = process.argv.slice(2);
const dir = argv[0];
if (!dir || dir.startsWith('--')) throw new Error('usage: node scripts/countdown-probe.mjs MODEL_DIR [--temperature T] [--n N] [--problems P]');
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: expected a non-negative number, got ${argv[i + 1]}`);
  return value;
};
const temperature = option('temperature', 0);
const n = option('n', 1);
const count = option('problems', 128);

const backend = await createBackend('cpu', {});
setBackend(backend);
const model = loadCausalLM(dir, { backend });
const tokenizer = loadTokenizer(dir);
const rng = new Prng(12345);
const problems = Array.from({ length: count }, () => generateCountdown(rng, { minNumbers: 3, maxNumbers: 3 }));
const prompts = problems.map((p) => tokenizer.encode(countdownPrompt(p, 'base'), { addSpecialTokens: false }));
const out = await generate(model, prompts, {
  maxNewTokens: 192, n, seed: 1, temperature: temperature || 1, topK: temperature ? -1 : 1,
});

const apply = (x, op, y) => (op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y);
const tally = { steps: 0, wrongSteps: 0, tries: 0, yes: 0, trueYes: 0, solved: 0, tokens: 0 };
const TRY = /(\d+)([-+*/])(\d+)=(\d+), (\d+)([-+*/])(\d+)=(\d+) (yes|no)/g;
for (let row = 0; row < out.rows; row++) {
  const problem = problems[Math.floor(row / n)];
  const ids = Array.from(out.responseIds.subarray(row * out.width, row * out.width + out.lengths[row]));
  const text = tokenizer.decode(ids, { skipSpecialTokens: true });
  tally.tokens += out.lengths[row];
  if (computeScore(`Assistant:${text}`, { target: problem.target, numbers: problem.nums }) === 1) tally.solved++;
  for (const m of text.split('</think>')[0].matchAll(TRY)) {
    tally.tries++;
    for (const at of [1, 5]) {
      tally.steps++;
      if (apply(Number(m[at]), m[at + 1], Number(m[at + 2])) !== Number(m[at + 3])) tally.wrongSteps++;
    }
    if (m[9] === 'yes') {
      tally.yes++;
      if (Number(m[8]) === problem.target) tally.trueYes++;
    }
  }
}
const share = (a, b) => (b === 0 ? null : Number((a / b).toFixed(4)));
console.log(JSON.stringify({
  model: dir, temperature, n, responses: out.rows,
  accuracy: share(tally.solved, out.rows),
  triesPerResponse: share(tally.tries, out.rows),
  wrongStepShare: share(tally.wrongSteps, tally.steps),
  yesPerResponse: share(tally.yes, out.rows),
  trueYesShare: share(tally.trueYes, tally.yes),
  meanResponseTokens: share(tally.tokens, out.rows),
}));
backend.destroy();
