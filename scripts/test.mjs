// Runs the ava suite and then checks what the whole suite must leave behind:
// no new /dev/shm entry of this package and no stray child process.
import { spawnSync, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const shm = () => new Set(readdirSync('/dev/shm').filter((n) => n.startsWith('multiproc-')));
const before = shm();
const r = spawnSync('npx', ['ava', ...process.argv.slice(2)], { stdio: 'inherit' });
const leaked = [...shm()].filter((n) => !before.has(n));
let children = '';
try {
  children = execFileSync('pgrep', ['-f', 'dist-test/__test__/fixtures/'], { encoding: 'utf8' }).trim();
} catch {
  // pgrep exits 1 when nothing matches.
}
let status = r.status ?? 1;
if (leaked.length > 0) {
  console.error(`FAIL: the suite left ${leaked.length} entries in /dev/shm: ${leaked.join(', ')}`);
  status = 1;
} else {
  console.log('/dev/shm: unchanged by the suite');
}
if (children) {
  console.error(`FAIL: child processes still running: ${children}`);
  status = 1;
}
process.exit(status);
