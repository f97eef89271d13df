/**
 * The peers measured beside our matmul in the same run: onnxruntime-node (native MLAS, the machine's
 * practical limit) and the TensorFlow.js WebAssembly backend (XNNPACK, the JavaScript-world peer).
 * Both are devDependencies loaded by dynamic import; when one is missing or fails to start, the
 * report says "unavailable: <why>" and the bench goes on. Their typings are not dependencies of
 * the build, so the slices used are declared here (an FFI edge).
 */
import type { Contender } from './timing.js';
import { matmulModel } from './onnx-model.js';

export interface MatmulShape {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** A peer that can time one product at a time. */
export interface MatmulPeer {
  readonly name: string;
  readonly version: string;
  /** Sets up inputs for `shape` on `threads` threads and returns the timed call; null if the peer cannot. */
  prepare(shape: MatmulShape, threads: number): Promise<(Contender & { dispose: () => void }) | null>;
}

export type PeerStatus = { name: string; version: string } | { name: string; unavailable: string };

const errText = (e: unknown): string => (e instanceof Error ? e.message.split('\n')[0]! : String(e));

function randomData(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() - 0.5;
  return a;
}

// --- onnxruntime-node ---------------------------------------------------------------------------

interface OrtTensorCtor { new (type: 'float32', data: Float32Array, dims: number[]): unknown }
interface OrtSession { run(feeds: Record<string, unknown>): Promise<Record<string, unknown>>; release(): Promise<void> }
interface OrtModule {
  Tensor: OrtTensorCtor;
  InferenceSession: { create(model: Uint8Array, opts: Record<string, unknown>): Promise<OrtSession> };
  env: { versions?: { common?: string } };
}

async function onnxruntime(): Promise<MatmulPeer> {
  const ort = (await import('onnxruntime-node' as string)) as OrtModule;
  return {
    name: 'onnxruntime',
    version: ort.env.versions?.common ?? 'unknown',
    async prepare(s, threads) {
      const session = await ort.InferenceSession.create(matmulModel(s.m, s.n, s.k, s.transA, s.transB), {
        executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      });
      const feeds = {
        A: new ort.Tensor('float32', randomData(s.m * s.k), s.transA ? [s.k, s.m] : [s.m, s.k]),
        B: new ort.Tensor('float32', randomData(s.k * s.n), s.transB ? [s.n, s.k] : [s.k, s.n]),
      };
      // Each call is awaited before the next: concurrent runs would go to several libuv threads
      // and break the thread count being measured.
      return {
        run: async () => { await session.run(feeds); },
        dispose: () => { void session.release(); },
      };
    },
  };
}

// --- @tensorflow/tfjs-backend-wasm --------------------------------------------------------------

interface TfTensor { dispose(): void }
interface TfModule {
  version_core: string;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  tensor2d(data: Float32Array, shape: [number, number]): TfTensor;
  matMul(a: TfTensor, b: TfTensor, transposeA: boolean, transposeB: boolean): TfTensor;
}

async function tfjsWasm(): Promise<MatmulPeer> {
  const tf = (await import('@tensorflow/tfjs-core' as string)) as TfModule;
  await import('@tensorflow/tfjs-backend-wasm' as string);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  await tf.ready();
  return {
    name: 'tfjs-wasm',
    version: tf.version_core,
    async prepare(s, threads) {
      // The Node build of the wasm backend runs on one thread; it has no pool to compare.
      if (threads !== 1) return null;
      const a = tf.tensor2d(randomData(s.m * s.k), s.transA ? [s.k, s.m] : [s.m, s.k]);
      const b = tf.tensor2d(randomData(s.k * s.n), s.transB ? [s.n, s.k] : [s.k, s.n]);
      // The wasm backend computes eagerly inside matMul, so the call itself is the whole product.
      return {
        run: () => tf.matMul(a, b, s.transA, s.transB).dispose(),
        dispose: () => { a.dispose(); b.dispose(); },
      };
    },
  };
}

/** Loads every peer it can; the statuses say which are missing and why. */
export async function loadPeers(): Promise<{ peers: MatmulPeer[]; status: PeerStatus[] }> {
  const peers: MatmulPeer[] = [];
  const status: PeerStatus[] = [];
  for (const [name, load] of [['onnxruntime', onnxruntime], ['tfjs-wasm', tfjsWasm]] as const) {
    try {
      const p = await load();
      peers.push(p);
      status.push({ name, version: p.version });
    } catch (e) {
      status.push({ name, unavailable: errText(e) });
    }
  }
  return { peers, status };
}
