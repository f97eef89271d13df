/** Backends and the choice between them. */
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import { ReferenceBackend } from './reference/index.js';

export type {
  Backend, DeviceBuffer, DType, UnaryOp, BinaryOp, ReduceOp, MatmulArgs, AttentionArgs, MemoryStats,
} from './backend.js';
export { CpuBackend, type CpuBackendOptions } from './cpu/index.js';
export { ReferenceBackend, type ReferenceOptions } from './reference/index.js';

export type DeviceName = 'cpu' | 'reference' | 'webgpu';

export interface CreateBackendOptions {
  /** Worker threads for the CPU backend (including the main thread). */
  threads?: number;
  /** Dawn backend for device webgpu ('vulkan', 'opengles', ...); default: the native one, else OpenGL ES. */
  webgpuBackend?: string;
}

/** Creates the backend for a `--device` / `trainer.device` value. */
export async function createBackend(device: DeviceName | string, options: CreateBackendOptions = {}): Promise<Backend> {
  switch (device) {
    case 'cpu':
      return CpuBackend.create({ threads: options.threads });
    case 'reference':
      return new ReferenceBackend();
    case 'webgpu': {
      // Imported on demand so nothing loads Dawn unless a WebGPU run asks for it.
      const { createNodeWebGpuBackend } = await import('./webgpu/node.js');
      const backend = await createNodeWebGpuBackend({ backend: options.webgpuBackend });
      if (!backend) throw new Error('device webgpu: Dawn found no WebGPU adapter on this machine');
      return backend;
    }
    default:
      throw new Error(`unknown device '${device}': expected cpu, reference or webgpu`);
  }
}
