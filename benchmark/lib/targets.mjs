// Process targets of the `startup` case (imported by the child itself, so no
// top-level side effects): the first thing the target does is signal the parent.

/** Sets `ev` (a multiproc Event) and returns, which ends the child with exit code 0. */
export function started(ev) {
  ev.set();
}
