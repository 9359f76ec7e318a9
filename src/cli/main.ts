// Entry point of `node dist/cli.js`. Any error a user can act on becomes one line on stderr and
// exit code 2 — never a stack trace (set TRELLIS_DEBUG=1 for one). The benchmarks and evaluations
// measure the engine as the extension's long-lived worker runs it, with the node flags of
// engine/heap.ts; those are set when a process starts, so such a command run without them runs
// again in a node that has them (the CLI itself, run.ts, loads only in the process that runs
// it). One-shot commands (`complete`, `infill`…) run as they are: a 64 MB young generation costs
// a short process more to set up than it saves.
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { ENGINE_NODE_FLAGS, hasEngineNodeFlags } from '../engine/heap';

/**
 * Runs a benchmark or evaluation command again in a node with the engine's flags when this one
 * lacks them: the child's exit status, or null to run it here (another command, help,
 * TRELLIS_NODE_FLAGS=0, or no child could start).
 */
function relaunched(argv: string[]): number | null {
  if (process.env.TRELLIS_NODE_FLAGS === '0' || hasEngineNodeFlags()) return null;
  const [name] = argv;
  if (!name || !/^(bench|eval)/.test(name) || argv.includes('--help') || argv.includes('-h')) return null;
  const r = spawnSync(process.execPath, [...process.execArgv, ...ENGINE_NODE_FLAGS, process.argv[1]!, ...argv], { stdio: 'inherit' });
  if (r.error) return null;
  if (r.status !== null) return r.status;
  return 128 + (os.constants.signals[r.signal as NodeJS.Signals] ?? 0);
}

const argv = process.argv.slice(2);
const status = relaunched(argv);
if (status !== null) process.exitCode = status;
else void import('./run').then((cli) => cli.runCli(argv));
