// Child-process side of a benchmark pair: `fork(peer-child.mjs, [JSON cfg])`.
// See lib/remote.mjs for the roles and the control protocol.
import { serve } from './lib/remote.mjs';

serve(JSON.parse(process.argv[2]), {
  send: (m) => process.send(m),
  onMessage: (fn) => process.on('message', fn),
  close: () => process.disconnect(), // no handle left: the process exits by itself
});
