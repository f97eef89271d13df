/** Paths of the bundled assets (copies of veRL's test model and data; see assets/README.md). */
const root = new URL('../../../', import.meta.url).pathname;

export const repoRoot = root;
/** veRL's tiny random Llama (BF16, 16-token character vocabulary). */
export const tinyLlamaDir = `${root}assets/models/tiny-llama`;
/** veRL's digit-completion train.parquet (800 rows) and test.parquet (200 rows). */
export const digitCompletionDir = `${root}assets/data/digit-completion`;
