// The inference worker: a child process that hosts one `Engine` and answers the JSON-RPC requests
// of src/protocol/worker.ts over the IPC channel its parent (the extension host, or a test) opened.
// It runs at most one generation at a time: requests queue behind the running one, and a request
// cancelled while queued never starts. `$/cancelRequest` aborts the engine's AbortSignal.
// Start: the extension forks dist/worker.js; `node dist/worker.js` alone exits with a hint.
import * as os from 'node:os';
import { createMessageConnection, IPCMessageReader, IPCMessageWriter, ResponseError, ErrorCodes, type CancellationToken } from 'vscode-jsonrpc/node';
import { TrellisError, type CompletionResult, type ModelInfo } from '../engine/api';
import { Engine } from '../engine/engine';
import {
  CancelAllNotification,
  CompleteRequest,
  InfillRequest,
  InfoRequest,
  LoadRequest,
  LogNotification,
  NO_MODEL,
  ReadyNotification,
  REQUEST_CANCELLED,
  StatsRequest,
  TRELLIS_ERROR,
  type WorkerStats,
} from '../protocol/worker';

if (typeof process.send !== 'function') {
  console.error('trellis worker: start me from the extension (child_process.fork with an IPC channel), not from a shell.');
  process.exit(2);
}

const connection = createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process));
const log = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string) =>
  void connection.sendNotification(LogNotification, { level, message });

let engine: Engine | undefined;
let info: ModelInfo | undefined;
let loading: { controller: AbortController; done: Promise<unknown> } | undefined;
/** Every generation's controller, so `cancelAll` and a reload can stop them. */
const running = new Set<AbortController>();
/** Generations serialize on this chain: at most one engine call at a time. */
let queue: Promise<void> = Promise.resolve();
let nextId = 1;

const stats: WorkerStats = {
  activeGenerations: 0,
  maxActiveGenerations: 0,
  started: 0,
  completed: 0,
  aborted: 0,
  failed: 0,
  model: null,
  pid: process.pid,
  nodeFlags: [...process.execArgv],
};

function cancelled(): ResponseError<undefined> {
  return new ResponseError(REQUEST_CANCELLED, 'cancelled');
}

/** Maps an engine error to a JSON-RPC error the client turns back into a typed error. */
function toResponseError(err: unknown): ResponseError<{ code: string; file?: string }> {
  if (err instanceof TrellisError) return new ResponseError(TRELLIS_ERROR, err.message, { code: err.code, file: err.file });
  const e = err as Error;
  log('error', `internal error: ${e?.stack ?? String(err)}`);
  return new ResponseError(ErrorCodes.InternalError, `internal error in the inference worker: ${e?.message ?? String(err)}`, { code: 'internal' });
}

/** Runs one engine call exclusively, with an AbortSignal tied to the request's cancellation. */
function generation<T>(kind: string, token: CancellationToken, fn: (e: Engine, signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const sub = token.onCancellationRequested(() => controller.abort());
  running.add(controller);
  const id = nextId++;
  const run = queue.then(async () => {
    if (controller.signal.aborted) throw cancelled();
    if (!engine) throw new ResponseError(NO_MODEL, 'no model is loaded; run "Trellis: Reload Model" or pick one with "Trellis: Select Model Folder"', { code: 'no_model' });
    stats.started++;
    stats.activeGenerations++;
    stats.maxActiveGenerations = Math.max(stats.maxActiveGenerations, stats.activeGenerations);
    log('debug', `generation ${id} ${kind} start active=${stats.activeGenerations} max=${stats.maxActiveGenerations}`);
    const t0 = performance.now();
    try {
      const result = await fn(engine, controller.signal);
      if (controller.signal.aborted) {
        stats.aborted++;
        throw cancelled();
      }
      stats.completed++;
      log('debug', `generation ${id} ${kind} done in ${Math.round(performance.now() - t0)} ms`);
      return result;
    } catch (err) {
      if (err instanceof ResponseError) throw err;
      if (controller.signal.aborted || (err instanceof TrellisError && err.code === 'aborted')) {
        stats.aborted++;
        throw cancelled();
      }
      stats.failed++;
      throw toResponseError(err);
    } finally {
      stats.activeGenerations--;
      log('debug', `generation ${id} ${kind} end active=${stats.activeGenerations} max=${stats.maxActiveGenerations}`);
    }
  });
  queue = run.then(() => undefined, () => undefined);
  return run.finally(() => {
    sub.dispose();
    running.delete(controller);
  });
}

function cancelAll(reason: string): void {
  if (running.size) log('debug', `cancelling ${running.size} generation(s): ${reason}`);
  for (const c of running) c.abort();
}

connection.onRequest(LoadRequest, async ({ modelDir, gediDir }, token) => {
  cancelAll('model reload');
  loading?.controller.abort();
  await loading?.done.catch(() => undefined);
  const controller = new AbortController();
  const sub = token.onCancellationRequested(() => controller.abort());
  const t0 = performance.now();
  // One core stays free for the editor (the extension host and the renderer) while generating.
  const threads = Math.max(1, os.cpus().length - 1);
  const load = Engine.load(modelDir, { gediDir, signal: controller.signal, threads });
  loading = { controller, done: load };
  try {
    const next = await load;
    await queue; // the old engine finishes (aborted) before it is disposed
    const old = engine;
    engine = next;
    info = next.info();
    stats.model = info.name;
    if (old) await old.dispose();
    log('info', `loaded model ${info.name} from ${modelDir}${gediDir ? ` with discriminator ${gediDir}` : ''} in ${Math.round(performance.now() - t0)} ms`);
    return info;
  } catch (err) {
    if (controller.signal.aborted) throw cancelled();
    throw toResponseError(err);
  } finally {
    sub.dispose();
    if (loading?.controller === controller) loading = undefined;
  }
});

connection.onRequest(InfoRequest, () => info ?? null);
connection.onRequest(StatsRequest, () => ({ ...stats }));
connection.onNotification(CancelAllNotification, ({ reason }) => cancelAll(reason));

connection.onRequest(CompleteRequest, ({ request }, token): Promise<CompletionResult> =>
  generation('complete', token, (e, signal) => e.complete(request, signal)));

connection.onRequest(InfillRequest, ({ request, n }, token): Promise<CompletionResult[]> =>
  generation(`infill×${n}`, token, (e, signal) => e.infill(request, n, signal)));

// The parent going away (extension host closed or crashed) ends the worker too.
process.on('disconnect', () => {
  void engine?.dispose().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});

connection.listen();
connection.sendNotification(ReadyNotification, { pid: process.pid, node: process.version });
