/** Backends and the choice between them. */
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import { ReferenceBackend } from './reference/index.js';
import type { DeviceName } from './devices.js';

export type {
  Backend, DeviceBuffer, DType, UnaryOp, BinaryOp, ReduceOp, StridedView, MatmulArgs, AttentionArgs, AdamWArgs, MemoryStats,
} from './backend.js';
export { CpuBackend, type CpuBackendOptions } from './cpu/index.js';
export { ReferenceBackend, type ReferenceOptions } from './reference/index.js';

export { deviceNames, type DeviceName } from './devices.js';

export interface CreateBackendOptions {
  /** Worker threads for the CPU backend (including the main thread). */
  threads?: number;
  /** Dawn backend for device webgpu ('vulkan', 'opengles', ...); default: the native one, else OpenGL ES. */
  webgpuBackend?: string;
  /**
   * Storage of frozen weights (models loaded with `frozen`, such as the reference policy): 'f16'
   * halves their memory and traffic on the CPU backend and on a WebGPU device with shader-f16;
   * elsewhere it falls back to f32 with a warning. Default 'f32'.
   */
  weightDtype?: 'f32' | 'f16';
  /** Where the warning about an f16 fallback goes (default console.warn). */
  warn?: (message: string) => void;
}

/** Creates the backend for a `--device` / `trainer.device` value. */
export async function createBackend(device: DeviceName | string, options: CreateBackendOptions = {}): Promise<Backend> {
  const warn = options.warn ?? ((m: string) => console.warn(`warning: ${m}`));
  switch (device) {
    case 'cpu':
      return CpuBackend.create({ threads: options.threads, weightDtype: options.weightDtype });
    case 'reference':
      // The reference backend is the f32 definition of every kernel; it has no f16 storage.
      if (options.weightDtype === 'f16') warn(`f16 weights need device cpu, or webgpu on an adapter with shader-f16; device ${device} keeps them f32`);
      return new ReferenceBackend();
    case 'webgpu': {
      // Imported on demand so nothing loads Dawn unless a WebGPU run asks for it.
      const { createNodeWebGpuBackend } = await import('./webgpu/node.js');
      const backend = await createNodeWebGpuBackend({ backend: options.webgpuBackend, weightDtype: options.weightDtype });
      if (!backend) throw new Error('device webgpu: Dawn found no WebGPU adapter on this machine');
      if (backend.weightDtypeNote) warn(backend.weightDtypeNote);
      return backend;
    }
    default:
      throw new Error(`unknown device '${device}': expected cpu, reference or webgpu`);
  }
}
