// Options of the GPU probes: `--name value` pairs, and `--dist DIR`, another build's dist folder
// to import the package from (a before/after pair in one lease); this checkout's dist otherwise.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);

/** The value after `--name`, or `fallback`. */
export const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};

/** Whether `--name` was given. */
export const flag = (name) => argv.includes(`--${name}`);

/** Imports `path` (from dist, e.g. 'src/tensor/index.js') from --dist DIR or this checkout's dist. */
export function fromDist(path) {
  const dist = opt('dist') ? pathToFileURL(resolve(opt('dist'))).href : new URL('../dist', import.meta.url).href;
  return import(`${dist}/${path}`);
}
