/**
 * Safetensors dtypes: their names and element sizes. The float conversions between them and float32
 * live in src/util/float16.ts (the tensor, nn and backend layers use them too) and are re-exported here.
 */
export * from '../util/float16.js';

/** Every dtype the safetensors format defines (see the Rust crate's `Dtype`). */
export const safetensorsDtypes = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
] as const;
export type SafetensorsDtype = (typeof safetensorsDtypes)[number];

/** The dtypes we can widen to float32 and write from float32. */
export const floatDtypes = ['BF16', 'F16', 'F32'] as const;
export type FloatDtype = (typeof floatDtypes)[number];

const elementSizes: { [D in SafetensorsDtype]: number } = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && (safetensorsDtypes as readonly string[]).includes(s);
}

export function isFloatDtype(s: unknown): s is FloatDtype {
  return typeof s === 'string' && (floatDtypes as readonly string[]).includes(s);
}

/** Bytes per element. */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return elementSizes[dtype];
}
