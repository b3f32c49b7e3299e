/**
 * Every runnable example in examples/ exits 0 by itself (the README and
 * `npm run demo` promise it), and the demo reports each item exactly once.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const examples = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.mjs') && !f.startsWith('_'));

function run(file: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join('examples', file)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

for (const file of examples) {
  test.serial(`examples/${file} runs and exits 0`, async (t) => {
    t.timeout(60_000);
    const { code, out } = await run(file);
    t.is(code, 0, out);
    if (file === 'joinable-queue.mjs') t.regex(out, /each item exactly once: yes/);
  });
}
