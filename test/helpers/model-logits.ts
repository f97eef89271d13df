/** Logits of one sequence from a model folder on a backend: the cross-backend model comparisons. */
import type { Backend } from '../../src/backend/backend.js';
import type { CausalLM } from '../../src/models/llama.js';
import { loadCausalLM } from '../../src/models/load.js';
import * as T from '../../src/tensor/index.js';

export async function modelLogits(
  backend: Backend, dir: string, ids: number[],
  options: { frozen?: boolean; inspect?: (model: CausalLM) => void } = {},
): Promise<Float32Array> {
  T.setBackend(backend);
  const model = loadCausalLM(dir, { frozen: options.frozen ?? false });
  try {
    options.inspect?.(model);
    const logits = T.tidy(() => T.noGrad(() => model.forward(T.tensor(Int32Array.from(ids), [1, ids.length]), {
      positions: T.tensor(Int32Array.from(ids, (_, i) => i), [1, ids.length]),
    })));
    try {
      return (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  } finally {
    model.dispose();
  }
}
