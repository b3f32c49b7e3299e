/**
 * Process targets: where the function a child runs comes from. A target is
 * checked in the parent (so a bad one throws at `new Process`) and turned
 * into a plain spec the child resolves.
 * @packageDocumentation
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** A module export or a function, as accepted by `Process` and `Pool`. */
export type Target =
  | string
  | URL
  | { module: string | URL; export: string }
  | ((...args: never[]) => unknown);

/** The plain form sent to the child. */
export type TargetSpec = { kind: 'module'; url: string; export: string } | { kind: 'source'; source: string };

function moduleUrl(m: string | URL): string {
  if (m instanceof URL) {
    if (m.protocol !== 'file:') throw new TypeError(`a target URL must be a file: URL, got ${m.protocol}`);
    const u = new URL(m.href);
    u.hash = '';
    return u.href;
  }
  if (m.startsWith('file:')) return moduleUrl(new URL(m));
  return pathToFileURL(path.resolve(process.cwd(), m)).href;
}

/** Checks a target and makes its spec. @throws TypeError */
export function targetSpec(t: unknown): TargetSpec {
  if (typeof t === 'function') {
    const source = Function.prototype.toString.call(t);
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) throw new TypeError('a native function cannot be sent to a child as source');
    if (/^class\b/.test(source)) throw new TypeError('target must be a function, not a class');
    return { kind: 'source', source };
  }
  if (t instanceof URL) {
    const name = decodeURIComponent(t.hash.slice(1));
    if (!name) throw new TypeError("a target URL must name the export in its hash: new URL('./mod.js#fn', import.meta.url)");
    return { kind: 'module', url: moduleUrl(t), export: name };
  }
  if (typeof t === 'string') {
    const i = t.lastIndexOf('#');
    if (i <= 0 || i === t.length - 1) throw new TypeError(`target '${t}' must look like './module.js#exportName'`);
    return { kind: 'module', url: moduleUrl(t.slice(0, i)), export: t.slice(i + 1) };
  }
  if (typeof t === 'object' && t !== null) {
    const o = t as { module?: unknown; export?: unknown };
    if ((typeof o.module !== 'string' && !(o.module instanceof URL)) || typeof o.export !== 'string' || o.export === '') {
      throw new TypeError('target must be { module: string | URL, export: string }');
    }
    return { kind: 'module', url: moduleUrl(o.module), export: o.export };
  }
  throw new TypeError("target must be './module.js#export', a file: URL, { module, export } or a function");
}

/** Resolves a spec to the function to call (in the child). */
export async function resolveTarget(spec: TargetSpec): Promise<(...args: unknown[]) => unknown> {
  if (spec.kind === 'source') {
    // The parent's own function, sent as source to its child: not foreign data.
    const fn = new Function(`return (${spec.source});`)() as unknown;
    if (typeof fn !== 'function') throw new TypeError('the target source is not a function');
    return fn as (...args: unknown[]) => unknown;
  }
  const mod = (await import(spec.url)) as Record<string, unknown> & { default?: Record<string, unknown> };
  const fn = mod[spec.export] ?? mod.default?.[spec.export];
  if (typeof fn !== 'function') throw new TypeError(`${spec.url} has no exported function '${spec.export}'`);
  return fn as (...args: unknown[]) => unknown;
}
