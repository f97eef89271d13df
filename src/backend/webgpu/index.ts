/** The WebGPU backend, browser-safe part (Node: see node.ts, which opens Dawn). */
export { WebGpuBackend, type WebGpuBackendOptions } from './webgpu-backend.js';
export { openDevice, type AdapterReport, type GpuOpenOptions } from './device.js';
