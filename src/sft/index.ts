/** `tinyzero sft`: causal-LM training on text or prompt/response pairs, with the RL trainer's checkpoint layout and resume. */
export { sft, evalLoss, stepExamples, type SftSummary, type SftOptions } from './fit.js';
export { loadSftExamples, toExample, targetCount, type SftExample, type SftDataOptions } from './data.js';
export { makeMicroBatch, microBatchLoss, type MicroBatch } from './loss.js';
export { saveSftCheckpoint, listSftCheckpoints, readSftState, restoreSftState, sftStore, SFT_STATE_FILE, type SftState } from './checkpoint.js';
export { SFT_RESUME_RULES } from './resume-rules.js';
