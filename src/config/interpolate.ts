/**
 * OmegaConf-style `${a.b.c}` links, resolved after every layer is merged (so overriding
 * `data.max_response_length` moves `rollout.response_length` unless that was set too). A value that
 * is exactly one link takes the linked value with its type; links inside a longer string are
 * pasted as text (`checkpoints/${trainer.project_name}/...`). Paths are absolute, as in veRL's YAML.
 */
import type { ConfigProblem } from './errors.js';
import { isMap } from './fields.js';
import { closestKey } from './suggest.js';
import { clone, getPath, schemaPaths } from './tree.js';
import type { YamlMap, YamlValue } from './types.js';

const WHOLE = /^\$\{([^${}]+)\}$/;
const ANY = /\$\{([^${}]+)\}/g;

export function resolveInterpolations(tree: YamlMap, problems: ConfigProblem[]): YamlMap {
  const resolving = new Set<string>();
  const done = new Map<string, YamlValue>();

  function resolvePath(target: string, from: string): YamlValue {
    const cached = done.get(target);
    if (cached !== undefined) return cached;
    const raw = getPath(tree, target.split('.'));
    if (raw === undefined) {
      const near = closestKey(target, schemaPaths());
      throw new LinkError(from, `links to unknown key '\${${target}}'${near === undefined ? '' : `; did you mean '${near}'?`}`);
    }
    if (resolving.has(target)) throw new LinkError(from, `link cycle through '${target}'`);
    resolving.add(target);
    const value = walk(raw, target);
    resolving.delete(target);
    done.set(target, value);
    return value;
  }

  function walk(value: YamlValue, at: string): YamlValue {
    if (typeof value === 'string') {
      const whole = WHOLE.exec(value.trim());
      if (whole) return clone(resolvePath(whole[1]!.trim(), at));
      if (!value.includes('${')) return value;
      return value.replace(ANY, (_, target: string) => {
        const v = resolvePath(target.trim(), at);
        if (v !== null && typeof v === 'object') throw new LinkError(at, `cannot paste the list/mapping '\${${target}}' into a string`);
        return String(v);
      });
    }
    if (Array.isArray(value)) return value.map((x, i) => walk(x, `${at}[${i}]`));
    if (isMap(value)) {
      const out: YamlMap = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, `${at}.${k}`);
      return out;
    }
    return value;
  }

  const out: YamlMap = {};
  for (const [key, value] of Object.entries(tree)) {
    out[key] = walkCollecting(value, key);
  }
  return out;

  /** Section by section, so one bad link reports itself and the rest still resolve. */
  function walkCollecting(value: YamlValue, at: string): YamlValue {
    if (isMap(value)) {
      const o: YamlMap = {};
      for (const [k, v] of Object.entries(value)) o[k] = walkCollecting(v, `${at}.${k}`);
      return o;
    }
    try {
      return walk(value, at);
    } catch (e) {
      if (!(e instanceof LinkError)) throw e;
      problems.push({ key: e.key, value, message: e.message });
      return value;
    }
  }
}

class LinkError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}
