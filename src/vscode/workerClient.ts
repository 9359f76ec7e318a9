// The extension host's side of the inference worker: starts `dist/worker.js` as a child process,
// talks JSON-RPC to it over the IPC channel, turns AbortSignals into `$/cancelRequest`, restarts
// the worker with backoff after a crash and loads the last model again. No `vscode` import (the
// extension passes a logger), so plain-node tests drive it against the real worker.
import { fork, type ChildProcess } from 'node:child_process';
import {
  CancellationTokenSource,
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  ResponseError,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type { CompletionRequest, CompletionResult, ModelInfo } from '../engine/api';
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
  type LoadParams,
  type WorkerErrorData,
  type WorkerStats,
} from '../protocol/worker';
import { RestartPolicy } from './backoff';
import { ENGINE_NODE_FLAGS, engineNodeFlagsFor } from '../engine/heap';

export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** `running`: process up, no model; `ready`: model loaded; `failed`: gave up restarting. */
export type WorkerState = 'stopped' | 'starting' | 'running' | 'loading' | 'ready' | 'crashed' | 'failed';

/** A request ended because it was cancelled (by a newer request, the user or a reload). */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/** The worker reported an error; `code` is the engine's TrellisError code, or `internal`. */
export class WorkerError extends Error {
  constructor(message: string, readonly code: string, readonly file?: string) {
    super(message);
    this.name = 'WorkerError';
  }
}

export interface WorkerClientOptions {
  /** Path of the bundled worker (`dist/worker.js`) or a `.ts` file with `execArgv: ['--import', 'tsx']`. */
  workerPath: string;
  logger: Logger;
  execArgv?: string[];
  /** Extra environment for the worker. */
  env?: Record<string, string>;
  policy?: RestartPolicy;
  /** Milliseconds to wait for the worker's ready message. */
  startTimeoutMs?: number;
}

export class WorkerClient {
  private child: ChildProcess | undefined;
  private connection: MessageConnection | undefined;
  private starting: Promise<MessageConnection> | undefined;
  private disposed = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private loadParams: LoadParams | undefined;
  private loaded: ModelInfo | undefined;
  private stateValue: WorkerState = 'stopped';
  private readonly listeners = new Set<(s: WorkerState, detail?: string) => void>();
  private readonly policy: RestartPolicy;
  /** Number of times the worker process was started. */
  starts = 0;

  constructor(private readonly opts: WorkerClientOptions) {
    this.policy = opts.policy ?? new RestartPolicy();
  }

  get state(): WorkerState {
    return this.stateValue;
  }

  /** The model the worker has loaded, if any. */
  get model(): ModelInfo | undefined {
    return this.loaded;
  }

  /** Process id of the running worker, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  onState(listener: (s: WorkerState, detail?: string) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private setState(s: WorkerState, detail?: string): void {
    this.stateValue = s;
    for (const l of this.listeners) l(s, detail);
  }

  /** Starts the worker if it is not running; resolves when it accepts requests. */
  start(): Promise<MessageConnection> {
    if (this.disposed) return Promise.reject(new Error('worker client disposed'));
    if (this.connection) return Promise.resolve(this.connection);
    this.starting ??= this.spawn().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawn(): Promise<MessageConnection> {
    const { logger } = this.opts;
    this.setState('starting');
    this.starts++;
    const flags = await engineNodeFlagsFor(process.execPath);
    if (this.disposed) throw new Error('worker client disposed');
    if (flags.length === 0) logger.warn(`${process.execPath} refused ${ENGINE_NODE_FLAGS.join(' ')}: the worker runs with node's default heap`);
    // ELECTRON_RUN_AS_NODE makes VS Code's Electron binary behave as plain node for the child.
    const child = fork(this.opts.workerPath, [], {
      execArgv: [...flags, ...(this.opts.execArgv ?? [])],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    const forward = (level: 'info' | 'warn') => (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) if (line.trim()) logger[level](`[worker] ${line}`);
    };
    child.stdout?.on('data', forward('info'));
    child.stderr?.on('data', forward('warn'));
    const connection = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    connection.onNotification(LogNotification, ({ level, message }) => logger[level](message));
    return new Promise<MessageConnection>((resolve, reject) => {
      const timeout = setTimeout(() => {
        reject(new Error(`the inference worker did not start within ${this.opts.startTimeoutMs ?? 20000} ms`));
        child.kill('SIGKILL');
      }, this.opts.startTimeoutMs ?? 20000);
      connection.onNotification(ReadyNotification, ({ pid, node }) => {
        clearTimeout(timeout);
        logger.info(`inference worker ${pid} started (node ${node})`);
        this.connection = connection;
        this.setState('running');
        resolve(connection);
      });
      child.once('error', (err) => {
        clearTimeout(timeout);
        logger.error(`inference worker failed to start: ${err.message}`);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timeout);
        connection.dispose();
        if (this.child === child) {
          this.child = undefined;
          this.connection = undefined;
          this.loaded = undefined;
        }
        reject(new Error(`the inference worker exited (${signal ?? `code ${code}`}) before it was ready`));
        if (!this.disposed) this.onCrash(code, signal);
      });
      connection.listen();
    });
  }

  private onCrash(code: number | null, signal: NodeJS.Signals | null): void {
    const { logger } = this.opts;
    const delayMs = this.policy.onCrash();
    const why = signal ?? `exit code ${code}`;
    if (delayMs === undefined) {
      logger.error(`inference worker crashed (${why}) ${this.policy.recentCrashes} times in a row; not restarting. Run "Trellis: Reload Model" to try again.`);
      this.setState('failed', `worker crashed (${why})`);
      return;
    }
    logger.warn(`inference worker crashed (${why}); restarting in ${delayMs} ms`);
    this.setState('crashed', `worker crashed (${why})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      const params = this.loadParams;
      const revive = params ? this.load(params) : this.start();
      revive.catch((err: Error) => logger.error(`restart failed: ${err.message}`));
    }, delayMs);
  }

  /** Loads (or reloads) a model; remembered, so a restarted worker loads it again. */
  async load(params: LoadParams, signal?: AbortSignal): Promise<ModelInfo> {
    this.loadParams = params;
    const connection = await this.start();
    connection.sendNotification(CancelAllNotification, { reason: 'reload' });
    this.setState('loading', params.modelDir);
    try {
      const info = await this.request((token) => connection.sendRequest(LoadRequest, params, token), signal);
      this.loaded = info;
      this.setState('ready', info.name);
      return info;
    } catch (err) {
      this.loaded = undefined;
      if (this.connection === connection) this.setState('running', (err as Error).message);
      throw err;
    }
  }

  async info(): Promise<ModelInfo | null> {
    const connection = await this.start();
    return connection.sendRequest(InfoRequest);
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    const connection = await this.start();
    return this.request((token) => connection.sendRequest(CompleteRequest, { request }, token), signal);
  }

  async infill(request: CompletionRequest, n: number, signal?: AbortSignal): Promise<CompletionResult[]> {
    const connection = await this.start();
    return this.request((token) => connection.sendRequest(InfillRequest, { request, n }, token), signal);
  }

  async stats(): Promise<WorkerStats> {
    const connection = await this.start();
    return connection.sendRequest(StatsRequest);
  }

  /** Aborts every generation in the worker. */
  cancelAll(reason: string): void {
    this.connection?.sendNotification(CancelAllNotification, { reason });
  }

  /** Kills the worker (the next request starts a new one); used by tests and "Reload Model". */
  async restart(): Promise<void> {
    this.policy.reset();
    const child = this.child;
    if (child) await this.stopChild(child);
  }

  /** Stops a worker on purpose: detached first, so its exit is not treated as a crash. */
  private stopChild(child: ChildProcess): Promise<void> {
    this.child = undefined;
    this.connection?.dispose();
    this.connection = undefined;
    this.loaded = undefined;
    child.removeAllListeners('exit');
    const exited = new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) r();
      else child.once('exit', () => r());
    });
    child.kill();
    this.setState('stopped');
    return exited;
  }

  private async request<T>(send: (token: CancellationTokenSource['token']) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new CancelledError();
    const source = new CancellationTokenSource();
    const onAbort = () => source.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await send(source.token);
    } catch (err) {
      throw translate(err, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      source.dispose();
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child) void this.stopChild(child);
    this.listeners.clear();
  }
}

function translate(err: unknown, signal?: AbortSignal): Error {
  if (err instanceof ResponseError) {
    if (err.code === REQUEST_CANCELLED) return new CancelledError();
    const data = err.data as WorkerErrorData | undefined;
    if (err.code === TRELLIS_ERROR || err.code === NO_MODEL) return new WorkerError(err.message, data?.code ?? 'internal', data?.file);
    return new WorkerError(err.message, data?.code ?? 'internal');
  }
  if (signal?.aborted) return new CancelledError();
  return err instanceof Error ? err : new Error(String(err));
}
