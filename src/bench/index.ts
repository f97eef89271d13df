/** Benchmarks of the engine beside its peers (`tinyzero bench`, `npm run bench`). */
export { runBench, runRlStepBench, REPORT_SCHEMA, RL_STEP_SCHEMA, type BenchOptions, type BenchReport, type RlStepReport } from './suite.js';
export { formatRlStep } from './rl-step-table.js';
export { formatReport } from './table.js';
