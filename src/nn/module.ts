/**
 * Module: a tree of named parameters and child modules whose dotted paths match HF safetensors
 * names (`model.layers.0.self_attn.q_proj.weight`), so loading a checkpoint is a name lookup.
 * Subclasses register what they own in their constructor with addParameter / addModule.
 */
import type { Backend } from '../backend/backend.js';
import { copyInto, getBackend, formatShape, type Shape, type Tensor } from '../tensor/index.js';
import type { Init } from './init.js';
import { createParameter, writeParameter, type Parameter } from './parameter.js';

/** Host copy of one parameter, as read from or written to a checkpoint. */
export interface ParameterData {
  shape: number[];
  data: Float32Array;
}

export interface LoadOptions {
  /** Throw when the source lacks a parameter or has one the module does not (default true). */
  strict?: boolean;
}

export interface LoadReport {
  /** Module parameters the source did not provide (left unchanged). */
  missing: string[];
  /** Source entries the module has no parameter for (ignored). */
  unexpected: string[];
}

const NAME = /^[A-Za-z0-9_]+$/;

export class Module {
  /** Training mode flag (dropout-free models ignore it; kept for code that branches on it). */
  training = true;
  readonly #params = new Map<string, Parameter>();
  readonly #children = new Map<string, Module>();

  /** Creates and registers a parameter called `name` (no dots) of `shape` (f16: a frozen weight, see createParameter). */
  protected addParameter(name: string, shape: Shape, init: Init, backend: Backend = getBackend(), dtype: 'f32' | 'f16' = 'f32'): Parameter {
    this.#claim(name);
    const p = createParameter(shape, init, backend, dtype);
    this.#params.set(name, p);
    return p;
  }

  /** Registers an existing parameter (e.g. one shared with another module for tied weights). */
  protected registerParameter(name: string, p: Parameter): Parameter {
    this.#claim(name);
    if (!p.requiresGrad) throw new Error(`registerParameter ${name}: tensor of shape ${formatShape(p.shape)} is not a parameter (requiresGrad is false)`);
    this.#params.set(name, p);
    return p;
  }

  /** Registers a child module; its parameters appear under `name.`. */
  protected addModule<M extends Module>(name: string, child: M): M {
    this.#claim(name);
    this.#children.set(name, child);
    return child;
  }

  #claim(name: string): void {
    if (!NAME.test(name)) throw new Error(`${this.constructor.name}: invalid member name '${name}' (letters, digits, _ only)`);
    if (this.#params.has(name) || this.#children.has(name)) throw new Error(`${this.constructor.name}: '${name}' is already registered`);
  }

  /** [path, parameter] in registration order, depth first. A tensor shared by two paths appears once, under the first. */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    this.#collect(prefix, out, seen);
    return out;
  }

  #collect(prefix: string, out: [string, Parameter][], seen: Set<Parameter>): void {
    for (const [name, p] of this.#params) {
      if (seen.has(p)) continue;
      seen.add(p);
      out.push([prefix + name, p]);
    }
    for (const [name, child] of this.#children) child.#collect(`${prefix}${name}.`, out, seen);
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** [path, module] for this module ('') and every descendant. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#children) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** Total number of scalar parameters (shared tensors counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** The parameter at a dotted path; throws with near matches when there is none. */
  getParameter(path: string): Parameter {
    const p = this.#find(path);
    if (!p) throw new Error(`no parameter '${path}' in ${this.constructor.name}${this.#suggest(path)}`);
    return p;
  }

  hasParameter(path: string): boolean {
    return this.#find(path) !== undefined;
  }

  #find(path: string): Parameter | undefined {
    const parts = path.split('.');
    let m: Module | undefined = this;
    for (let i = 0; i < parts.length - 1 && m; i++) m = m.#children.get(parts[i]!);
    return m ? m.#params.get(parts[parts.length - 1]!) : undefined;
  }

  #suggest(path: string): string {
    const all = this.namedParameters().map(([n]) => n);
    const last = path.slice(path.lastIndexOf('.') + 1);
    const near = all.filter((n) => n.endsWith(`.${last}`) || n === last).slice(0, 5);
    if (near.length > 0) return `; parameters ending in '${last}': ${near.join(', ')}${all.length > near.length ? ', ...' : ''}`;
    return `; it has ${all.length} parameters${all.length > 0 ? `, e.g. ${all.slice(0, 3).join(', ')}` : ''}`;
  }

  /**
   * Overwrites the parameter at `path` with `data` (checked against `shape` when given, else by
   * count); f16 bits (Uint16Array) only for an f16 parameter.
   */
  loadParameter(path: string, data: Float32Array | Uint16Array, shape?: Shape): void {
    writeParameter(this.getParameter(path), data, path, shape);
  }

  /**
   * Loads many parameters by name. With strict (the default) nothing is written unless the names
   * match exactly; shapes are always checked before any value is written.
   */
  loadStateDict(source: Iterable<[string, ParameterData]> | Record<string, ParameterData>, options: LoadOptions = {}): LoadReport {
    const entries = Symbol.iterator in source ? [...(source as Iterable<[string, ParameterData]>)] : Object.entries(source);
    const own = this.namedParameters();
    const given = new Set(entries.map(([n]) => n));
    const missing = own.map(([n]) => n).filter((n) => !given.has(n));
    const unexpected = entries.map(([n]) => n).filter((n) => !this.hasParameter(n));
    if ((options.strict ?? true) && (missing.length > 0 || unexpected.length > 0)) {
      const list = (xs: string[]): string => xs.slice(0, 8).join(', ') + (xs.length > 8 ? `, ... (${xs.length} in all)` : '');
      throw new Error(`loadStateDict into ${this.constructor.name}: ` +
        [missing.length ? `missing ${list(missing)}` : '', unexpected.length ? `unexpected ${list(unexpected)}` : ''].filter(Boolean).join('; '));
    }
    const toWrite = entries.filter(([n]) => this.hasParameter(n));
    for (const [name, { shape, data }] of toWrite) {
      const p = this.getParameter(name);
      if (shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i]) || data.length !== p.size) {
        throw new Error(`loadStateDict: ${name} expects shape ${formatShape(p.shape)}, got ${formatShape(shape)} with ${data.length} values`);
      }
    }
    for (const [name, { shape, data }] of toWrite) this.loadParameter(name, data, shape);
    return { missing, unexpected };
  }

  /** Host copies of every parameter, by path (async so it works on devices without sync reads). */
  async stateDict(): Promise<Map<string, ParameterData>> {
    const out = new Map<string, ParameterData>();
    for (const [name, p] of this.namedParameters()) {
      out.set(name, { shape: p.shape.slice(), data: (await p.data()) as Float32Array });
    }
    return out;
  }

  /** Frees every parameter's gradient (the next backward allocates fresh ones). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter and gradient; the module is unusable afterwards. */
  dispose(): void {
    this.zeroGrad();
    for (const p of this.parameters()) p.dispose();
  }
}

/** Children named 0, 1, 2, ... (HF `layers.0`, `layers.1`). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: readonly M[];

  constructor(items: Iterable<M>) {
    super();
    const list = [...items];
    list.forEach((m, i) => this.addModule(String(i), m));
    this.items = list;
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new Error(`ModuleList: index ${i} out of range for ${this.items.length} items`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** Copies every parameter of `from` into the same-named parameter of `to` (same architecture). */
export function copyParameters(from: Module, to: Module): void {
  for (const [name, p] of from.namedParameters()) copyInto(p, to.getParameter(name), false);
}
