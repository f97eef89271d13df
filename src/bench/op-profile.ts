/**
 * Per-op profile of a backend: how often each backend method is called and how long it runs, and how
 * much of the wall time is JS between the calls (tensor bookkeeping, autograd, scopes, host-side RL
 * math). Opt-in and outside the engine: the methods are shadowed on the instance (tensors hold the
 * backend object itself, so a proxy would miss them) and put back by `stop`. A nested call (the CPU's
 * `read` served by its `readSync`) counts under the outer method only.
 */
import type { Backend, LinearGroupArgs, MatmulArgs } from '../backend/backend.js';
import { round } from './timing.js';

export interface OpStat {
  op: string;
  calls: number;
  ms: number;
  /** Mean microseconds per call. */
  usPerCall: number;
}

export interface OpProfile {
  wallMs: number;
  /** Time inside backend methods (outermost calls). */
  backendMs: number;
  /** wallMs − backendMs: JS between backend calls. */
  betweenMs: number;
  calls: number;
  /** Every method called, most time first. */
  ops: OpStat[];
}

function methodNames(be: Backend): string[] {
  const names = new Set<string>();
  for (let p: object | null = Object.getPrototypeOf(be) as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor') continue;
      const desc = Object.getOwnPropertyDescriptor(p, name);
      if (desc && typeof desc.value === 'function') names.add(name);
    }
  }
  for (const name of Object.keys(be)) if (typeof (be as unknown as Record<string, unknown>)[name] === 'function') names.add(name);
  return [...names];
}

/** unary/binary/reduce take their op's name first, matmul and linearGroup their sizes: each op and shape is a row of its own. */
function opKey(name: string, args: unknown[]): string {
  if (typeof args[0] === 'string') return `${name}:${args[0]}`;
  if (name === 'matmul' && typeof args[3] === 'object' && args[3] !== null) {
    const m = args[3] as MatmulArgs;
    return `matmul ${m.batch > 1 ? `${m.batch}x` : ''}${m.m}x${m.n}x${m.k} ${m.transA ? 'T' : 'N'}${m.transB ? 'T' : 'N'}${m.accumulate ? '+' : ''}`;
  }
  if (name === 'linearGroup' && typeof args[5] === 'object' && args[5] !== null) {
    const g = args[5] as LinearGroupArgs;
    return `linearGroup ${g.m}x[${g.n.join(',')}]x${g.k}${g.epilogue === 'none' ? '' : ` ${g.epilogue}`}${args[3] ? ' +residual' : ''}`;
  }
  return name;
}

/** Starts profiling `be`; the returned function stops it, restores the methods and returns the profile. */
export function profileBackend(be: Backend): () => OpProfile {
  const own = be as unknown as Record<string, unknown>;
  const stats = new Map<string, { calls: number; ms: number }>();
  const saved: [string, boolean, unknown][] = [];
  let depth = 0;
  for (const name of methodNames(be)) {
    if (name === 'destroy') continue;
    const original = own[name] as (...a: unknown[]) => unknown;
    saved.push([name, Object.hasOwn(be, name), own[name]]);
    own[name] = function (this: unknown, ...args: unknown[]): unknown {
      if (depth > 0) return original.apply(be, args);
      const key = opKey(name, args);
      let stat = stats.get(key);
      if (!stat) stats.set(key, (stat = { calls: 0, ms: 0 }));
      depth++;
      const t0 = performance.now();
      try {
        return original.apply(be, args);
      } finally {
        stat.ms += performance.now() - t0;
        stat.calls++;
        depth--;
      }
    };
  }
  const start = performance.now();
  return () => {
    const wallMs = performance.now() - start;
    for (const [name, had, value] of saved) {
      if (had) own[name] = value;
      else delete own[name];
    }
    const ops = [...stats].filter(([, s]) => s.calls > 0)
      .map(([op, s]) => ({ op, calls: s.calls, ms: round(s.ms, 1), usPerCall: round((s.ms * 1000) / s.calls, 1) }))
      .sort((a, b) => b.ms - a.ms);
    const backendMs = ops.reduce((s, o) => s + o.ms, 0);
    return { wallMs: round(wallMs, 1), backendMs: round(backendMs, 1), betweenMs: round(wallMs - backendMs, 1), calls: ops.reduce((s, o) => s + o.calls, 0), ops };
  };
}
