/** Benchmarks of the engine beside its peers (`tinyzero bench`, `npm run bench`). */
export { runBench, REPORT_SCHEMA, type BenchOptions, type BenchReport } from './suite.js';
export { formatReport } from './table.js';
