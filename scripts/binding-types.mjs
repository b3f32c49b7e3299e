// napi-rs writes `ExternalObject<QueueBox>` into binding.d.ts for functions on
// an External but does not declare the Rust type inside; declare each such
// name as an opaque type so the published typings check on their own.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../binding.d.ts', import.meta.url);
let dts = readFileSync(file, 'utf8');
const names = new Set([...dts.matchAll(/ExternalObject<(\w+)>/g)].map((m) => m[1]));
const missing = [...names].filter((n) => !new RegExp(`(interface|type|class) ${n}\\b`).test(dts));
if (missing.length > 0) {
  dts += '\n/** Opaque native objects, only ever passed back to the addon. */\n';
  for (const n of missing) dts += `export interface ${n} { readonly __native: '${n}' }\n`;
  writeFileSync(file, dts);
}
