/**
 * Node entry of the WebGPU backend: opens Dawn through the `webgpu` package (dawn.node). Only this
 * file imports it, so browsers and CPU-only runs never load Dawn.
 *
 * Without `backend`, Dawn's default (Vulkan, Metal or D3D12) is tried first; when it has no
 * adapter, Dawn's OpenGL ES backend in compatibility mode is tried next, which runs on Mesa's
 * software rasteriser on machines without a GPU (EGL_PLATFORM=surfaceless: no display needed).
 *
 * Dawn's toggle `vulkan_enable_f16_on_nvidia` is always enabled: without it Dawn hides
 * `shader-f16` on NVIDIA's Vulkan driver, and f16 weights would fall back to f32 there.
 */
/// <reference types="@webgpu/types" />
import { WebGpuBackend, type WebGpuBackendOptions } from './webgpu-backend.js';

export interface NodeWebGpuOptions extends WebGpuBackendOptions {
  /** Dawn backend name ('vulkan', 'opengles', 'metal', 'd3d12', ...); default: try the native one, then OpenGL ES. */
  backend?: string;
  /** Extra dawn.node flags, such as 'enable-dawn-features=dump_shaders'. */
  flags?: string[];
}

/** Dawn toggles every device gets (see the file comment). */
const DEFAULT_TOGGLES = ['vulkan_enable_f16_on_nvidia'];
const ENABLE = 'enable-dawn-features=';

/** dawn.node keeps one enable-dawn-features flag, so the caller's toggles join ours in one. */
export function dawnFlags(backend: string | undefined, extra: string[] = []): string[] {
  const toggles = [...DEFAULT_TOGGLES];
  const rest: string[] = [];
  for (const f of extra) {
    if (f.startsWith(ENABLE)) toggles.push(...f.slice(ENABLE.length).split(',').filter((t) => t && !toggles.includes(t)));
    else rest.push(f);
  }
  return [...(backend ? [`backend=${backend}`] : []), `${ENABLE}${toggles.join(',')}`, ...rest];
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: object;
}

let dawn: Promise<DawnModule> | null = null;
/** dawn.node's GPU objects, kept alive for the backends made from them (the GPU must outlive its devices). */
const gpus: GPU[] = [];

async function loadDawn(): Promise<DawnModule> {
  dawn ??= import('webgpu').then((m) => {
    const mod = m as unknown as DawnModule;
    // The GPUBufferUsage / GPUMapMode constants the backend uses live on dawn.node's globals.
    Object.assign(globalThis, mod.globals);
    return mod;
  });
  return dawn;
}

/** The WebGPU backend on this machine's best adapter, or null when Dawn finds none. */
export async function createNodeWebGpuBackend(options: NodeWebGpuOptions = {}): Promise<WebGpuBackend | null> {
  // Mesa's EGL needs a platform without a display; it must be set before Dawn starts.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  const { create } = await loadDawn();
  const attempts: [string | undefined, 'core' | 'compatibility'][] = options.backend
    ? [[options.backend, options.backend.startsWith('opengl') ? 'compatibility' : 'core']]
    : [[undefined, 'core'], ['opengles', 'compatibility']];
  for (const [backend, featureLevel] of attempts) {
    const flags = dawnFlags(backend, options.flags);
    let gpu: GPU;
    try {
      gpu = create(flags);
    } catch {
      continue; // dawn.node throws for a backend it was not built with
    }
    const be = await WebGpuBackend.create(gpu, { featureLevel, weightDtype: options.weightDtype, subgroups: options.subgroups, batchLimit: options.batchLimit });
    if (be) {
      gpus.push(gpu);
      return be;
    }
  }
  return null;
}
