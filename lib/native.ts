/**
 * Loads the native addon (generated `binding.js` at the package root), with
 * one clear sentence when no binary exists for this platform.
 * @packageDocumentation
 */
import * as path from 'node:path';

type Binding = typeof import('../binding');

function load(): Binding {
  const file = path.join(__dirname, '..', '..', 'binding.js');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as Binding;
  } catch (e) {
    const err = new Error(
      `multiproc has no native binary for ${process.platform}-${process.arch} here: ` +
        'install the matching multiproc-<platform> package, or build it with `npm run build` (needs Rust).',
      { cause: e },
    );
    throw err;
  }
}

/** The N-API binding. */
export const native: Binding = load();
