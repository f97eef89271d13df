/// <reference types="@webgpu/types" />
/**
 * Opening a device: takes a GPU object (navigator.gpu in a browser, or dawn.node's in Node, see
 * node.ts), asks the adapter for all of its limits (the defaults, 128 MiB per binding, are far too
 * small for a 0.5B model's embedding) and the features worth having.
 */

export interface GpuOpenOptions {
  /** 'compatibility' for adapters that only offer it (Dawn on OpenGL ES); default 'core'. */
  featureLevel?: 'core' | 'compatibility';
  powerPreference?: GPUPowerPreference;
}

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  featureLevel: string;
  features: string[];
  /** The device has `shader-f16`: f16 buffers for frozen weights (WebGpuBackend.halfStorage). */
  shaderF16: boolean;
  /** The device has `subgroups`: the row reductions use subgroup operations. */
  subgroups: boolean;
  /** Subgroup sizes the adapter reports (0 when it reports none). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  limits: Record<string, number>;
}

/** Storage buffers the largest kernel binds (attention dk/dv); the WebGPU default limit is 8. */
export const STORAGE_BUFFERS_NEEDED = 8;

const WANTED_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups' as GPUFeatureName, 'timestamp-query'];

export async function openDevice(gpu: GPU, options: GpuOpenOptions = {}): Promise<{ device: GPUDevice; report: AdapterReport } | null> {
  const featureLevel = options.featureLevel ?? 'core';
  const adapter = await gpu.requestAdapter({ featureLevel, powerPreference: options.powerPreference ?? 'high-performance' } as GPURequestAdapterOptions);
  if (!adapter) return null;
  const limits: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as getters on the prototype, hence for..in.
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits[key] = v;
  }
  const storageBuffers = limits.maxStorageBuffersPerShaderStage ?? 0;
  if (storageBuffers < STORAGE_BUFFERS_NEEDED) {
    throw new Error(`WebGPU adapter offers ${storageBuffers} storage buffers per shader stage; the kernels need ${STORAGE_BUFFERS_NEEDED}`);
  }
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits: limits, requiredFeatures: features });
  // Newer than @webgpu/types here: the subgroup sizes live on GPUAdapterInfo.
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  return {
    device,
    report: {
      vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      featureLevel, features: [...adapter.features].map(String).sort(), shaderF16: features.includes('shader-f16'),
      subgroups: features.includes('subgroups' as GPUFeatureName), subgroupMinSize: info.subgroupMinSize ?? 0,
      subgroupMaxSize: info.subgroupMaxSize ?? 0, limits,
    },
  };
}
