// Node flags of the long-lived processes that run the engine: the extension's worker
// (vscode/workerClient, when the binary takes them) and the CLI's benchmarks and evaluations
// (cli/main relaunches them).
//
// A grammar mask walk builds caches as it goes (parser rows, memo records), so much of what it
// allocates outlives V8's young-generation collections; with the default 16 MB semi-space a
// scavenge (4–8 ms, copying those survivors) fell inside about 1.4% of the masks at a 128k
// vocabulary and set their 99th percentile. A 64 MB young generation makes scavenges a quarter
// as frequent: at 128k tokens the mask p99 drops by 15–30% (bench-mask, paired runs), for about
// 20 MB more peak memory with the default model. (A one-shot CLI completion runs without them:
// setting up the larger young generation costs it ~70 ms, more than it saves.)
import { execFile } from 'node:child_process';

export const ENGINE_NODE_FLAGS: readonly string[] = ['--min-semi-space-size=64', '--max-semi-space-size=64'];

const checked = new Map<string, Promise<readonly string[]>>();

/**
 * ENGINE_NODE_FLAGS if the node at `execPath` takes them, else none (checked once per binary by
 * running it with them: the extension's worker runs on VS Code's Electron as node, and a flag
 * it refused would stop the worker from starting at all).
 */
export function engineNodeFlagsFor(execPath: string): Promise<readonly string[]> {
  let flags = checked.get(execPath);
  if (!flags) {
    flags = new Promise((resolve) => {
      execFile(execPath, [...ENGINE_NODE_FLAGS, '-e', ''], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 20_000 },
        (err) => resolve(err ? [] : ENGINE_NODE_FLAGS));
    });
    checked.set(execPath, flags);
  }
  return flags;
}

/** Whether this process runs with ENGINE_NODE_FLAGS. */
export function hasEngineNodeFlags(execArgv: readonly string[] = process.execArgv): boolean {
  return ENGINE_NODE_FLAGS.every((f) => execArgv.includes(f));
}
