// The `halfMatmul` entry of `npm run bench` on its own (same shapes, same interleaved timing):
// matmul with f16 weights beside f32 weights on the CPU backend. Needs `npm run build`.
//   node scripts/bench-half.mjs [threads]
import { createPair } from '../dist/src/bench/setup.js';
import { benchHalfMatmul, HALF_SHAPES } from '../dist/src/bench/half.js';

const pair = await createPair('cpu', process.argv[2] ? Number(process.argv[2]) : undefined);
try {
  console.log(JSON.stringify(await benchHalfMatmul(pair, HALF_SHAPES, { rounds: 3, minMs: 120 }), null, 1));
} finally {
  pair.destroy();
}
