/**
 * Process-wide engine state: the default backend, the stack of disposal scopes, and whether
 * gradients are recorded. Kept in one place so tests can see and reset it.
 */
import type { Backend } from '../backend/backend.js';
import type { Tensor } from './tensor.js';

let defaultBackend: Backend | null = null;
let gradEnabled = true;
const scopes: Set<Tensor>[] = [];

export function setBackend(backend: Backend): void {
  defaultBackend = backend;
}

export function getBackend(): Backend {
  if (!defaultBackend) throw new Error('no backend: call setBackend() (or initEngine()) before creating tensors');
  return defaultBackend;
}

export function hasBackend(): boolean {
  return defaultBackend !== null;
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording set to `enabled`, restoring the previous setting after. */
function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with gradient recording off (inference, optimizer updates, metrics). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording on (a checkpointed block's recomputation, inside a backward). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/** Called by every new tensor so the innermost scope can dispose it. */
export function trackTensor(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a tensor from every open scope so it outlives them (parameters, gradients, results). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** What a scope function may return: tensors in it (at any depth of arrays/objects) survive. */
export type Kept = Tensor | Kept[] | { [key: string]: Kept } | number | string | boolean | null | undefined | void;

/**
 * Runs fn and disposes every tensor created inside it, except those it returns (found in arrays
 * and plain objects) and those passed to keep(). Survivors move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = openScope();
  let result: T;
  try {
    result = fn();
  } catch (err) {
    closeScope(scope, undefined);
    throw err;
  }
  return closeScope(scope, result);
}

/** Async variant of tidy for code that awaits read-backs inside the scope. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = openScope();
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    closeScope(scope, undefined);
    throw err;
  }
  return closeScope(scope, result);
}

function openScope(): Set<Tensor> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  return scope;
}

/** Removes `scope` (wherever it sits: async scopes may close out of order) and frees all but `result`'s tensors. */
function closeScope<T>(scope: Set<Tensor>, result: T): T {
  const i = scopes.lastIndexOf(scope);
  if (i >= 0) scopes.splice(i, 1);
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  // Newest first: a pool that hands back the last buffer freed then gives a repeated scope (a
  // decoding step) the same buffers in the same order each time, so WebGPU's bind groups, named by
  // their buffers, are found made (docs/gpu.md).
  const tensors = [...scope];
  for (let j = tensors.length - 1; j >= 0; j--) {
    const t = tensors[j]!;
    if (survivors.has(t)) trackTensor(t);
    else t.dispose();
  }
  return result;
}

function collectTensors(value: unknown, out: Set<Tensor>): void {
  if (value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as Record<string, unknown>)) collectTensors(v, out);
  }
}

const TENSOR_TAG = Symbol.for('tinyzero.tensor');
export function isTensor(value: unknown): value is Tensor {
  return typeof value === 'object' && value !== null && (value as { [TENSOR_TAG]?: boolean })[TENSOR_TAG] === true;
}
export const tensorTag = TENSOR_TAG;
