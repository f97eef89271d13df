/**
 * A one-node ONNX model (MatMul, or Gemm for transposed operands) serialized by hand, so the
 * onnxruntime peer needs no model files and no protobuf library. Only the few ModelProto fields
 * onnxruntime requires are written (field numbers from onnx.proto3).
 */

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** Field `num` as a varint (wire type 0). */
const int = (num: number, v: number): number[] => [...varint(num << 3), ...varint(v)];
/** Field `num` as length-delimited bytes (wire type 2): strings and nested messages. */
const bytes = (num: number, body: number[]): number[] => [...varint((num << 3) | 2), ...varint(body.length), ...body];
const str = (num: number, s: string): number[] => bytes(num, [...new TextEncoder().encode(s)]);

/** ValueInfoProto of a float tensor with a fixed shape. */
function valueInfo(field: number, name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...int(1, 1), ...bytes(2, shape)]; // elem_type FLOAT, shape
  return bytes(field, [...str(1, name), ...bytes(2, bytes(1, tensorType))]); // name, type { tensor_type }
}

/** AttributeProto of type INT. */
const intAttr = (name: string, v: number): number[] => bytes(5, [...str(1, name), ...int(3, v), ...int(20, 2)]);

/**
 * Y [m, n] = op(A) @ op(B): A is [m, k] or, with transA, [k, m]; B is [k, n] or, with transB, [n, k].
 * Inputs are named A and B, the output Y.
 */
export function matmulModel(m: number, n: number, k: number, transA: boolean, transB: boolean): Uint8Array {
  const plain = !transA && !transB;
  const node = bytes(1, [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'Y'), ...str(3, 'mm'), ...str(4, plain ? 'MatMul' : 'Gemm'),
    ...(plain ? [] : [...intAttr('transA', transA ? 1 : 0), ...intAttr('transB', transB ? 1 : 0)])]);
  const graph = [...node, ...str(2, 'bench'), ...valueInfo(11, 'A', transA ? [k, m] : [m, k]),
    ...valueInfo(11, 'B', transB ? [n, k] : [k, n]), ...valueInfo(12, 'Y', [m, n])];
  const opset = bytes(8, [...str(1, ''), ...int(2, 13)]);
  return Uint8Array.from([...int(1, 8), ...opset, ...bytes(7, graph)]); // ir_version 8, opset 13, graph
}
