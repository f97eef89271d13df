export { CpuBackend, CpuBuffer, type CpuBackendOptions } from './cpu-backend.js';
export type { KernelVariant } from './kernels.js';
