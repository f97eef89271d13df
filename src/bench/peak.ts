/**
 * The machine's WebAssembly SIMD128 arithmetic peak on one core: a hand-assembled loop of 12
 * independent multiply-adds on f32x4 registers (enough to cover the FMA latency), nothing loaded
 * from memory. It is the ceiling our kernels are compared against. Uses relaxed_madd (one fused
 * instruction) when the runtime accepts it, else mul + add like our plain-SIMD build.
 */
import { enableRelaxedSimd } from '../backend/cpu/kernels.js';

/** The slice of the WebAssembly API used here (Node's typings leave it out; an FFI edge). */
const wasm = (globalThis as unknown as { WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
} }).WebAssembly;

const ACCS = 12;
const A = 13, B = 14; // locals holding the constant operands; locals 1..12 are the accumulators

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 127;
    n >>>= 7;
    if (n !== 0) b |= 128;
    out.push(b);
  } while (n !== 0);
  return out;
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const f32x4Const = (x: number): number[] => [...simd(0x0c), ...new Uint8Array(new Float32Array([x, x, x, x]).buffer)];

/** (func (param $iters i32) (result f32)): runs `iters` iterations of ACCS multiply-adds. */
function peakModule(fused: boolean): Uint8Array {
  const madd = (acc: number): number[] => fused
    ? [0x20, A, 0x20, B, 0x20, acc, ...simd(0x105), 0x21, acc] // relaxed_madd(a, b, acc)
    : [0x20, A, 0x20, B, ...simd(0xe6), 0x20, acc, ...simd(0xe4), 0x21, acc]; // mul, add
  const body = [
    1, 14, 0x7b, // 14 v128 locals
    ...f32x4Const(1.0001), 0x21, A,
    ...f32x4Const(0.9999), 0x21, B,
    0x03, 0x40, // loop
    ...Array.from({ length: ACCS }, (_, i) => madd(i + 1)).flat(),
    0x20, 0, 0x41, 1, 0x6b, 0x22, 0, 0x0d, 0, // iters -= 1; br_if loop
    0x0b, // end loop
    0x20, 1, ...Array.from({ length: ACCS - 1 }, (_, i) => [0x20, i + 2, ...simd(0xe4)]).flat(),
    ...simd(0x1f), 0, // f32x4.extract_lane 0: the sum keeps every accumulator live
    0x0b,
  ];
  return Uint8Array.from([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7d]),
    ...section(3, [1, 0]),
    ...section(7, [1, 4, ...new TextEncoder().encode('peak'), 0, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

export interface PeakResult {
  /** GFLOP/s of one core (a multiply-add counts as 2 flops per lane). */
  gflopsPerCore: number;
  instruction: 'relaxed_madd' | 'mul+add';
}

/** Best of several ~50 ms runs. */
export function measurePeak(minMs = 50, rounds = 5): PeakResult {
  enableRelaxedSimd();
  let bytes = peakModule(true);
  const fused = wasm.validate(bytes);
  if (!fused) bytes = peakModule(false);
  const inst = new wasm.Instance(new wasm.Module(bytes), {});
  const peak = inst.exports['peak'] as (iters: number) => number;
  let iters = 1 << 16;
  for (;;) {
    const t0 = performance.now();
    peak(iters);
    if (performance.now() - t0 > minMs / 4 || iters > 1 << 28) break;
    iters *= 2;
  }
  iters = Math.max(iters * 4, 1);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    peak(iters);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { gflopsPerCore: (iters * ACCS * 8) / best / 1e9, instruction: fused ? 'relaxed_madd' : 'mul+add' };
}
