// The comparison suite (`npm run bench`): multiproc's Queue, Pipe, locks,
// events, semaphores, shared Value and Process start-up against Node's
// built-in ways (process.send, postMessage, SharedArrayBuffer + Atomics,
// fork, new Worker), side by side in one run, and Python's multiprocessing
// when python3 is present.
//
//   node benchmark/run.mjs [--quick] [--reps=N] [case ...]   (cases: see CASES)
//
// For every case all its peers are started once, warmed up (and, outside
// --quick, given an item count that takes ~0.5 s), then measured in
// round-robin order, rep after rep, so that a slow phase of the machine
// hits every peer alike. Each table gives the median, min and max over the
// repetitions and the ratios of each multiproc variant to each peer; the
// summary checks the targets of issues 2, 3 and 4 on the medians.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

import { pingPongPeer, pythonPeer, streamPeer } from './lib/peers.mjs';
import { counterPeer, lockPeer, signalPingPongPeer, startupPeer } from './lib/sync-peers.mjs';
import { num, stats, table } from './lib/report.mjs';
import { watchdog } from './lib/watchdog.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const repsArg = args.find((a) => a.startsWith('--reps='));
const REPS = repsArg ? Number(repsArg.slice(7)) : quick ? 5 : 7;
const TARGET_SECONDS = 0.5; // length of one repetition of one peer (full run)
const chosen = args.filter((a) => !a.startsWith('--'));

const trace = process.env.BENCH_TRACE ? (s) => fs.writeSync(2, `[bench] ${s}\n`) : () => {};
const dog = watchdog();
const RUN_LIMIT_MS = Number(process.env.BENCH_RUN_LIMIT_MS) || 120_000; // one measured run normally takes about 0.5 s

/** One run of peer `p` under the watchdog; returns seconds. */
async function runOnce(caseName, p, n) {
  const label = `${caseName} / ${p.label} (n=${n})`;
  trace(label);
  dog.arm(label, RUN_LIMIT_MS, p.pids());
  const s = await p.run(n);
  dog.disarm();
  return s;
}

const hasPython = spawnSync('python3', ['-c', 'import multiprocessing'], { stdio: 'ignore' }).status === 0;

/** The peers every 1->1 stream case shares; `ring` says how the SAB ring serializes. */
function streamPeers(kind, { threadAsync = true, bounded = false, ring, ringBytes, postLabel = 'worker_threads postMessage', python = false }) {
  const list = [
    { key: 'mp-proc-sync', label: 'multiproc Queue, processes, putSync/getSync', group: 'multiproc', via: 'mp-sync', where: 'process' },
    { key: 'mp-proc-async', label: 'multiproc Queue, processes, await put/get', group: 'multiproc', via: 'mp-async', where: 'process' },
    { key: 'mp-thread-sync', label: 'multiproc Queue, threads, putSync/getSync', group: 'multiproc', via: 'mp-sync', where: 'thread' },
  ];
  if (bounded) {
    // Not a target row: shows what the default unbounded queue's growth costs.
    list.push({ key: 'mp-proc-sync-bounded', label: 'multiproc Queue(maxsize 4), processes, sync', group: 'multiproc', via: 'mp-sync', where: 'process', queueOpts: { maxsize: 4 } });
  }
  if (threadAsync) {
    list.push({ key: 'mp-thread-async', label: 'multiproc Queue, threads, await put/get', group: 'multiproc', via: 'mp-async', where: 'thread' });
  }
  list.push(
    { key: 'send-json', short: 'send json', label: "process.send, serialization 'json'", group: 'peer', via: 'msg', where: 'process', serialization: 'json' },
    { key: 'send-adv', short: 'send adv', label: "process.send, serialization 'advanced'", group: 'peer', via: 'msg', where: 'process', serialization: 'advanced' },
    { key: 'post', short: 'postMessage', label: postLabel, group: 'peer', via: 'msg', where: 'thread' },
    { key: 'ring', short: 'SAB ring', label: `SAB SPSC ring, threads (${ring})`, group: 'peer', via: 'ring', where: 'thread', ringBytes },
  );
  const peers = list.map((p) => ({ ...streamPeer({ ...p, kind }), short: p.short }));
  if (python && hasPython) peers.push({ ...pythonPeer({ key: 'py', label: 'Python multiprocessing.Queue, processes', pyCase: 'small' }), short: 'Python mp' });
  return peers;
}

const CASES = {
  small: {
    title: 'Small objects {id, name}, 1 producer -> 1 consumer',
    unit: 'items/s',
    higherBetter: true,
    metric: (n, s) => n / s,
    quickN: 2000,
    minN: 1000,
    maxN: 2_000_000,
    peers: () => streamPeers('small', { ring: 'v8.serialize', python: true }),
  },
  buf64: {
    title: '64-byte Buffers, 1 producer -> 1 consumer',
    unit: 'items/s',
    higherBetter: true,
    metric: (n, s) => n / s,
    quickN: 2000,
    minN: 1000,
    maxN: 2_000_000,
    peers: () => streamPeers('buf64', { ring: 'raw bytes' }),
  },
  buf1m: {
    title: '1 MiB Buffers, 1 producer -> 1 consumer',
    unit: 'MB/s',
    higherBetter: true,
    metric: (n, s) => (n * (1 << 20)) / s / 1e6,
    quickN: 8,
    minN: 4,
    maxN: 4000,
    peers: () => streamPeers('buf1m', { threadAsync: false, bounded: true, ring: 'raw bytes, 8 MiB', ringBytes: 8 << 20, postLabel: 'worker_threads postMessage (copy, no transfer)' }),
  },
  pingpong: {
    title: 'Ping-pong round trip of one {id, name} (two queues of maxsize 1 for multiproc)',
    unit: 'µs',
    higherBetter: false,
    metric: (n, s) => (s / n) * 1e6,
    quickN: 300,
    minN: 200,
    maxN: 500_000,
    peers: () => {
      const list = [
        { key: 'mp-proc-sync', label: 'multiproc Queue, processes, putSync/getSync', group: 'multiproc', via: 'mp-sync', where: 'process' },
        { key: 'mp-proc-async', label: 'multiproc Queue, processes, await put/get', group: 'multiproc', via: 'mp-async', where: 'process' },
        { key: 'mp-thread-sync', label: 'multiproc Queue, threads, putSync/getSync', group: 'multiproc', via: 'mp-sync', where: 'thread' },
        { key: 'send-json', short: 'send json', label: "process.send, serialization 'json'", group: 'peer', via: 'msg', where: 'process', serialization: 'json' },
        { key: 'send-adv', short: 'send adv', label: "process.send, serialization 'advanced'", group: 'peer', via: 'msg', where: 'process', serialization: 'advanced' },
        { key: 'post', short: 'postMessage', label: 'worker_threads postMessage', group: 'peer', via: 'msg', where: 'thread' },
      ];
      const peers = list.map((p) => ({ ...pingPongPeer(p), short: p.short }));
      if (hasPython) peers.push({ ...pythonPeer({ key: 'py', label: 'Python multiprocessing.Queue, processes', pyCase: 'pingpong' }), short: 'Python mp' });
      return peers;
    },
  },
  lock: {
    title: 'Uncontended lock: acquire + release in one thread',
    unit: 'ns/op',
    nMeans: 'acquire + release pairs per repetition',
    higherBetter: false,
    metric: (n, s) => (s / n) * 1e9,
    quickN: 20_000,
    minN: 10_000,
    maxN: 50_000_000,
    peers: () => {
      const list = [
        { key: 'mp-lock', label: 'multiproc Lock, acquireSync/release', via: 'mp-lock' },
        { key: 'mp-lock-with', label: 'multiproc Lock, withLockSync(fn)', via: 'mp-lock-with' },
        { key: 'mp-rlock', label: 'multiproc RLock, acquireSync/release', via: 'mp-rlock' },
        { key: 'mp-lock-async', label: 'multiproc Lock, await acquire()/release', via: 'mp-lock-async' },
        { key: 'atomics', short: 'Atomics mutex', label: 'Atomics mutex on a SharedArrayBuffer', via: 'atomics', group: 'peer' },
      ];
      const peers = list.map((p) => ({ ...lockPeer({ group: 'multiproc', ...p }), short: p.short }));
      if (hasPython) peers.push({ ...pythonPeer({ key: 'py', label: 'Python multiprocessing.Lock', pyCase: 'lock' }), short: 'Python mp' });
      return peers;
    },
  },
  counter: {
    title: 'Two processes (or threads) each incrementing one shared int32 under a lock, N times each',
    unit: 'ops/s',
    nMeans: 'increments per process per repetition (ops/s counts both processes)',
    higherBetter: true,
    metric: (n, s) => (2 * n) / s,
    quickN: 5000,
    minN: 2000,
    maxN: 20_000_000,
    peers: () => {
      const list = [
        { key: 'mp-proc', label: 'multiproc Value, processes, acquireSync/release', via: 'mp-counter-acquire', where: 'process' },
        { key: 'mp-proc-with', label: 'multiproc Value, processes, withLockSync', via: 'mp-counter-with', where: 'process' },
        { key: 'mp-thread', label: 'multiproc Value, threads, acquireSync/release', via: 'mp-counter-acquire', where: 'thread' },
        { key: 'atomics', short: 'Atomics, threads', label: 'Atomics mutex + Int32 on a SAB, threads', via: 'atomics-counter', where: 'thread', group: 'peer' },
      ];
      const peers = list.map((p) => ({ ...counterPeer({ group: 'multiproc', ...p }), short: p.short }));
      if (hasPython) peers.push({ ...pythonPeer({ key: 'py', label: 'Python multiprocessing.Value + get_lock()', pyCase: 'counter' }), short: 'Python mp' });
      return peers;
    },
  },
  event: {
    title: 'Ping-pong through two Events (set, waitSync, clear), two processes',
    unit: 'round trips/s',
    higherBetter: true,
    metric: (n, s) => n / s,
    quickN: 300,
    minN: 200,
    maxN: 500_000,
    peers: () => signalPeers('event'),
  },
  semaphore: {
    title: 'Ping-pong through two Semaphore(0)s (release, acquireSync), two processes',
    unit: 'round trips/s',
    higherBetter: true,
    metric: (n, s) => n / s,
    quickN: 300,
    minN: 200,
    maxN: 500_000,
    peers: () => signalPeers('semaphore'),
  },
  pipe: {
    title: 'Pipe: small objects {id, name}, 1 producer -> 1 consumer',
    unit: 'items/s',
    higherBetter: true,
    metric: (n, s) => n / s,
    quickN: 2000,
    minN: 1000,
    maxN: 2_000_000,
    peers: () => pipePeers('small', { pyCase: 'pipe', sendJson: true }),
  },
  pipe1m: {
    title: 'Pipe: 1 MiB Buffers (sendBytes / recvBytes), 1 producer -> 1 consumer',
    unit: 'MB/s',
    higherBetter: true,
    metric: (n, s) => (n * (1 << 20)) / s / 1e6,
    quickN: 8,
    minN: 4,
    maxN: 4000,
    peers: () => pipePeers('buf1m', { pyCase: 'pipe1m', sendJson: false, postLabel: 'worker_threads postMessage (copy, no transfer)' }),
  },
  startup: {
    title: 'Start-up: from start() to the first sign of life of the new process or thread',
    unit: 'ms',
    nMeans: 'starts per repetition',
    higherBetter: false,
    metric: (n, s) => (s / n) * 1e3,
    quickN: 1,
    minN: 1,
    maxN: 1,
    reps: Math.max(REPS, 9),
    peers: () => {
      const list = [
        { key: 'mp-proc', label: "multiproc Process, kind 'process' (target sets an Event)", group: 'multiproc', via: 'process' },
        { key: 'mp-thread', label: "multiproc Process, kind 'thread' (target sets an Event)", group: 'multiproc', via: 'thread' },
        { key: 'fork', short: 'fork', label: 'child_process.fork, first IPC message', group: 'peer', via: 'fork' },
        { key: 'worker', short: 'new Worker', label: 'new Worker, first message', group: 'peer', via: 'worker' },
      ];
      const peers = list.map((p) => ({ ...startupPeer(p), short: p.short }));
      if (hasPython) peers.push({ ...pythonPeer({ key: 'py', label: 'Python multiprocessing.Process (fork), sets an Event', pyCase: 'startup' }), short: 'Python mp' });
      return peers;
    },
  },
};

/** Event or Semaphore ping-pong peers. */
function signalPeers(via) {
  const name = via === 'event' ? 'Event' : 'Semaphore';
  const peers = [
    { key: 'mp-proc', label: `multiproc ${name}, processes, sync`, where: 'process' },
    { key: 'mp-thread', label: `multiproc ${name}, threads, sync`, where: 'thread' },
  ].map((p) => signalPingPongPeer({ ...p, group: 'multiproc', via }));
  if (hasPython) peers.push({ ...pythonPeer({ key: 'py', label: `Python multiprocessing.${name}, processes`, pyCase: via }), short: 'Python mp' });
  return peers;
}

/** Pipe(false) 1 -> 1 peers, with the message-passing peers of the stream cases. */
function pipePeers(kind, { pyCase, sendJson, postLabel = 'worker_threads postMessage' }) {
  const list = [
    { key: 'mp-proc-sync', label: 'multiproc Pipe, processes, sendSync/recvSync', group: 'multiproc', via: 'pipe-sync', where: 'process' },
    { key: 'mp-proc-async', label: 'multiproc Pipe, processes, await send/recv', group: 'multiproc', via: 'pipe-async', where: 'process' },
    { key: 'mp-thread-sync', label: 'multiproc Pipe, threads, sendSync/recvSync', group: 'multiproc', via: 'pipe-sync', where: 'thread' },
  ];
  if (sendJson) list.push({ key: 'send-json', short: 'send json', label: "process.send, serialization 'json'", group: 'peer', via: 'msg', where: 'process', serialization: 'json' });
  list.push(
    { key: 'send-adv', short: 'send adv', label: "process.send, serialization 'advanced'", group: 'peer', via: 'msg', where: 'process', serialization: 'advanced' },
    { key: 'post', short: 'postMessage', label: postLabel, group: 'peer', via: 'msg', where: 'thread' },
  );
  const peers = list.map((p) => ({ ...streamPeer({ ...p, kind }), short: p.short }));
  if (hasPython) peers.push({ ...pythonPeer({ key: 'py', label: `Python multiprocessing.Pipe${kind === 'small' ? '' : ', send_bytes'}, processes`, pyCase }), short: 'Python mp' });
  return peers;
}

/** Targets of issue 2 item 9 and issue 3 item 7, checked on medians; `goal` is a ratio of multiproc to the peer. */
const TARGETS = [
  { case: 'small', mp: 'mp-proc-sync', peer: 'send-json', goal: 1.3, what: 'small objects >= 1.3x process.send' },
  { case: 'small', mp: 'mp-proc-async', peer: 'send-json', goal: 1.3, what: 'small objects >= 1.3x process.send' },
  { case: 'buf64', mp: 'mp-proc-sync', peer: 'send-json', goal: 5, what: '64-byte Buffers >= 5x process.send' },
  { case: 'buf64', mp: 'mp-proc-async', peer: 'send-json', goal: 5, what: '64-byte Buffers >= 5x process.send' },
  { case: 'buf1m', mp: 'mp-proc-sync', peer: 'post', goal: 1.5, what: '1 MiB Buffers >= 1.5x postMessage (copy)' },
  { case: 'buf1m', mp: 'mp-proc-async', peer: 'post', goal: 1.5, what: '1 MiB Buffers >= 1.5x postMessage (copy)' },
  { case: 'buf1m', mp: 'mp-thread-sync', peer: 'post', goal: 1.5, what: '1 MiB Buffers >= 1.5x postMessage (copy)' },
  { case: 'pingpong', mp: 'mp-proc-sync', peer: 'send-json', goal: 0.5, what: 'sync round trip <= 0.5x process.send' },
  { case: 'lock', mp: 'mp-lock', peer: 'atomics', goal: 3, what: 'uncontended lock <= 3x the Atomics mutex ns/op' },
  { case: 'pipe', mp: 'mp-proc-sync', peer: 'send-json', goal: 1.3, what: 'Pipe small objects >= 1.3x process.send' },
  { case: 'pipe', mp: 'mp-proc-async', peer: 'send-json', goal: 1.3, what: 'Pipe small objects >= 1.3x process.send' },
  { case: 'pipe1m', mp: 'mp-proc-sync', peer: 'post', goal: 1.5, what: 'Pipe 1 MiB >= 1.5x postMessage (copy)' },
  { case: 'pipe1m', mp: 'mp-proc-async', peer: 'post', goal: 1.5, what: 'Pipe 1 MiB >= 1.5x postMessage (copy)' },
];

/** Starts the case's peers, calibrates, measures REPS rounds; returns per-peer stats. */
async function runCase(name, def) {
  const peers = def.peers();
  const started = [];
  try {
    for (const p of peers) {
      await p.start();
      started.push(p);
    }
    // Warm-up (JIT, queue growth, page faults, heap sizing), then an item
    // count for ~TARGET_SECONDS, then one unmeasured run of that count: the
    // first long run of every peer was slower than the rest (heaps and
    // allocators still adapting), whichever peer it was.
    for (const p of peers) {
      await runOnce(name, p, def.quickN);
      const s = await runOnce(name, p, def.quickN);
      p.n = quick ? def.quickN : Math.max(def.minN, Math.min(def.maxN, Math.round((def.quickN / s) * TARGET_SECONDS)));
      if (!quick) await runOnce(name, p, p.n);
      p.samples = [];
    }
    for (let r = 0; r < (def.reps ?? REPS); r++) {
      for (let j = 0; j < peers.length; j++) {
        const p = peers[(r + j) % peers.length];
        p.samples.push(def.metric(p.n, await runOnce(name, p, p.n)));
      }
    }
  } finally {
    for (const p of started) await p.stop();
  }
  for (const p of peers) p.stats = stats(p.samples);
  // BENCH_SAMPLES=1: every repetition's figure, to see the spread behind a median.
  if (process.env.BENCH_SAMPLES) for (const p of peers) console.log(`samples (${name}): ${p.label}: ${p.samples.map((x) => Math.round(x)).join(' ')}`);
  return peers;
}

function ratio(def, mp, peer, pick = 'median') {
  return mp.stats[pick] / peer.stats[pick];
}

function printCase(name, def, peers) {
  const dir = def.higherBetter ? 'higher is better' : 'lower is better';
  console.log(`\n## ${name}: ${def.title}\n`);
  console.log(`${def.unit} (${dir}); median, min and max of ${def.reps ?? REPS} repetitions; N = ${def.nMeans ?? 'items (round trips) per repetition'}\n`);
  console.log(
    table(
      ['peer', 'N', `median ${def.unit}`, 'min', 'max'],
      peers.map((p) => [p.label, p.n, num(p.stats.median), num(p.stats.min), num(p.stats.max)]),
    ),
  );
  const mps = peers.filter((p) => p.group === 'multiproc');
  const others = peers.filter((p) => p.group !== 'multiproc');
  const how = def.higherBetter ? 'multiproc / peer throughput (>1: multiproc faster)' : 'multiproc / peer time (<1: multiproc faster)';
  console.log(`\nratios of medians, ${how}\n`);
  console.log(
    table(
      ['', ...others.map((o) => o.short)],
      mps.map((m) => [m.label, ...others.map((o) => `${ratio(def, m, o).toFixed(2)}x`)]),
    ),
  );
}

function machine() {
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? os.cpus()[0]?.model;
  const py = hasPython ? spawnSync('python3', ['--version'], { encoding: 'utf8' }).stdout.trim() : 'python3: not found (Python columns skipped)';
  return [
    `cpus (nproc): ${os.availableParallelism()}   cpu: ${cpu}`,
    `node ${process.version}   kernel ${os.release()}   ${py}`,
    `load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `mode: ${quick ? '--quick (smoke run: few items, no calibration)' : `full (~${TARGET_SECONDS} s per repetition per peer)`}, ${REPS} repetitions`,
  ].join('\n');
}

async function main() {
  const names = chosen.length ? chosen : Object.keys(CASES);
  for (const n of names) {
    if (!CASES[n]) {
      console.error(`unknown case ${n}; cases: ${Object.keys(CASES).join(', ')}`);
      process.exit(2);
    }
  }
  console.log(`# multiproc benchmark\n\n${machine()}`);
  const results = {};
  const t0 = Date.now();
  for (const n of names) {
    results[n] = await runCase(n, CASES[n]);
    printCase(n, CASES[n], results[n]);
  }
  const lines = [];
  let failed = 0;
  for (const t of TARGETS) {
    const peers = results[t.case];
    if (!peers) continue;
    const def = CASES[t.case];
    const mp = peers.find((p) => p.key === t.mp);
    const peer = peers.find((p) => p.key === t.peer);
    const r = ratio(def, mp, peer);
    // The pessimistic pairing: multiproc's worst repetition against the peer's best.
    const worst = def.higherBetter ? mp.stats.min / peer.stats.max : mp.stats.max / peer.stats.min;
    const ok = def.higherBetter ? r >= t.goal : r <= t.goal;
    if (!ok) failed++;
    lines.push(
      `${ok ? 'PASS' : 'FAIL'}  ${t.what}: ${mp.label} = ${r.toFixed(2)}x ${peer.label}` +
        ` (goal ${def.higherBetter ? '>=' : '<='} ${t.goal}x; worst-vs-best ${worst.toFixed(2)}x)`,
    );
  }
  console.log(`\n## targets (same run, ratios of medians)${quick ? ' -- --quick: too few items to mean anything' : ''}\n`);
  console.log(lines.length ? lines.join('\n') : '(no target case in this run)');
  console.log(`\n${failed ? `${failed} target(s) missed` : 'all targets met'}; total time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

await main();
