// A traffic light driven by an Event: one process switches the light (the
// Event `green`) between red and green; car processes arrive in waves, wait
// for green and report passing through a Queue. When every car has passed,
// the main process sets `done` and the light switches off.
// Run: node examples/traffic-light.mjs
import { Event, Process, Queue } from 'multiproc';

const WAVES = 3;
const CARS_PER_WAVE = 3;
const PHASE_MS = 150; // how long the light stays red or green

// The light starts red; each phase lasts PHASE_MS, ended early only by `done`.
function trafficLight(green, done, phaseMs) {
  let switches = 0;
  while (!done.waitSync({ timeout: phaseMs })) {
    if (green.isSet()) {
      green.clear();
      console.log('light: red');
    } else {
      console.log('light: GREEN'); // printed first, so it precedes the cars' lines
      green.set();
    }
    switches++;
  }
  green.clear();
  console.log(`light: off after ${switches} switches`);
}

function car(green, passed, id) {
  if (!green.isSet()) console.log(`car ${id}: arrives at a red light, waits`);
  green.waitSync();
  console.log(`car ${id}: passes on green`);
  passed.putSync(id);
}

const green = new Event();
const done = new Event();
const passed = new Queue();

const light = new Process({ target: trafficLight, args: [green, done, PHASE_MS], name: 'light' });
console.log('main: the light starts red');
light.start();

const cars = [];
let id = 0;
for (let wave = 1; wave <= WAVES; wave++) {
  // A new wave arrives once the previous one has passed: the cars meet the light in varying states.
  const thisWave = [];
  for (let k = 0; k < CARS_PER_WAVE; k++) thisWave.push(new Process({ target: car, args: [green, passed, ++id], name: `car-${id}` }));
  for (const c of thisWave) c.start();
  for (let k = 0; k < CARS_PER_WAVE; k++) console.log(`main: car ${await passed.get()} has passed`);
  cars.push(...thisWave);
}
done.set();
for (const p of [light, ...cars]) await p.join();

const failed = [light, ...cars].filter((p) => p.exitcode !== 0);
console.log(`main: ${cars.length} cars passed the light`);
if (failed.length > 0) {
  console.error(`main: FAILED (${failed.map((p) => `${p.name} exit ${p.exitcode}`).join(', ')})`);
  process.exitCode = 1;
}
