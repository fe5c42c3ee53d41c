// Preloaded into score.mjs by tests/runtime/test_node_cli_contract.py (node --import): SIGKILL the process
// just before its KILL_AT-th filesystem operation on a path under KILL_ROOT, as test_watch_crash.py's audit
// hook does for edgepack-score. The named imports of node:fs in web/node/watch.js see these wrappers
// through syncBuiltinESMExports.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve } from 'node:path';

const root = process.env.KILL_ROOT;
const at = Number(process.env.KILL_AT || 0);
let seen = 0;
for (const name of ['openSync', 'renameSync', 'unlinkSync', 'mkdirSync', 'readdirSync', 'writeFileSync']) {
  const original = fs[name];
  fs[name] = function counted(...args) {
    if (typeof args[0] === 'string' && resolve(args[0]).startsWith(root)) {
      seen += 1;
      if (seen === at) process.kill(process.pid, 'SIGKILL');
    }
    return original.apply(this, args);
  };
}
syncBuiltinESMExports();
