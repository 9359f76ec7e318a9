// A LanguageModel whose ONNX session runs on a worker thread (model-thread.ts). onnxruntime-node's
// `session.run` blocks the thread that calls it, so two models on one thread take turns; the GeDi
// discriminator runs here while the base model runs on the engine's thread, and its forward pass
// really overlaps the base model's (gedi.ts starts it in accept()). Caches live on the worker: the
// proxies below hold an id and the length, and every operation is a message, answered in order.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ForwardRow, KvCache, LanguageModel } from '../interfaces';
import type { ModelGeometry } from './onnxModel';

/** Messages to the model thread. */
export type ThreadRequest =
  | { op: 'forward'; req: number; rows: { id: number; ids: number[] }[]; allPositions: boolean }
  | { op: 'new'; id: number }
  | { op: 'fork'; id: number; from: number }
  | { op: 'truncate'; id: number; length: number }
  | { op: 'dispose'; id: number }
  | { op: 'close' };

/** Answers of the model thread: logits of a forward pass, or its error. */
export type ThreadReply = { req: number; logits: Float32Array[] } | { req: number; error: string } | { ready: true } | { fatal: string };

/**
 * How long dispose() lets the thread finish the pass it is in and release its session before it
 * is terminated: terminating a thread inside onnxruntime's run() can abort the whole process.
 */
const CLOSE_GRACE_MS = 5000;

/** What the model thread loads (workerData). */
export interface ThreadInit { onnxFile: string; geometry: ModelGeometry; threads: number }

/** The bundled model-thread script next to this bundle (dist/), or null when there is none (tests from source). */
export function modelThreadScript(): string | null {
  for (const f of [path.join(__dirname, 'model-thread.js'), path.resolve(__dirname, '../../../dist/model-thread.js')]) {
    if (fs.existsSync(f)) return f;
  }
  return null;
}

class ThreadKvCache implements KvCache {
  constructor(private readonly owner: ThreadLanguageModel, readonly id: number, public length: number) {}
  fork(): KvCache { return this.owner.forkCache(this); }
  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new RangeError(`truncate(${length}) of a cache holding ${this.length}`);
    this.length = length;
    this.owner.post({ op: 'truncate', id: this.id, length });
  }
  dispose(): void { this.owner.post({ op: 'dispose', id: this.id }); }
}

export class ThreadLanguageModel implements LanguageModel {
  readonly vocabSize: number;
  readonly contextLength: number;
  /** Forward passes run (batches count once), as OnnxLanguageModel counts them. */
  calls = 0;
  private readonly worker: Worker;
  private nextId = 1;
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve: (l: Float32Array[]) => void; reject: (e: Error) => void }>();
  private failed: Error | null = null;
  private disposed = false;
  /** Resolves with the thread's exit code once it has ended (0: it closed itself). */
  readonly exited: Promise<number>;

  private constructor(worker: Worker, geometry: ModelGeometry) {
    this.worker = worker;
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
    this.vocabSize = geometry.vocabSize;
    this.contextLength = geometry.contextLength;
    worker.on('message', (m: ThreadReply) => {
      if ('req' in m) {
        const p = this.pending.get(m.req);
        this.pending.delete(m.req);
        if (!p) return;
        if ('error' in m) p.reject(new Error(m.error));
        else p.resolve(m.logits);
      }
    });
    const fail = (e: Error) => {
      this.failed ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => { if (!this.disposed) fail(new Error(`the model thread exited (code ${code})`)); });
  }

  /** Starts the thread and waits until its session is loaded. */
  static async start(script: string, init: ThreadInit): Promise<ThreadLanguageModel> {
    const worker = new Worker(script, { workerData: init });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: ThreadReply) => {
        if ('ready' in m) { cleanup(); resolve(); } else if ('fatal' in m) { cleanup(); reject(new Error(m.fatal)); }
      };
      const onError = (e: Error) => { cleanup(); reject(e); };
      const cleanup = () => { worker.off('message', onMessage); worker.off('error', onError); };
      worker.on('message', onMessage);
      worker.on('error', onError);
    }).catch(async (e) => { await worker.terminate(); throw e; });
    return new ThreadLanguageModel(worker, init.geometry);
  }

  post(m: ThreadRequest): void {
    if (!this.disposed) this.worker.postMessage(m);
  }

  newCache(): KvCache {
    const id = this.nextId++;
    this.post({ op: 'new', id });
    return new ThreadKvCache(this, id, 0);
  }

  forkCache(c: ThreadKvCache): KvCache {
    const id = this.nextId++;
    this.post({ op: 'fork', id, from: c.id });
    return new ThreadKvCache(this, id, c.length);
  }

  forward(rows: readonly ForwardRow[], options: { allPositions?: boolean } = {}): Promise<Float32Array[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.disposed) return Promise.reject(new Error('forward on a disposed model'));
    const msg: { id: number; ids: number[] }[] = [];
    for (const r of rows) {
      if (!(r.cache instanceof ThreadKvCache)) throw new TypeError('ThreadLanguageModel.forward: cache from another model');
      if (r.ids.length === 0) throw new RangeError('forward: a row has no ids');
      if (r.cache.length + r.ids.length > this.contextLength) throw new RangeError(`forward: ${r.cache.length + r.ids.length} positions exceed the model's context of ${this.contextLength}`);
      msg.push({ id: r.cache.id, ids: [...r.ids] });
    }
    const req = this.nextReq++;
    this.calls++;
    const p = new Promise<Float32Array[]>((resolve, reject) => this.pending.set(req, { resolve, reject }));
    this.post({ op: 'forward', req, rows: msg, allPositions: !!options.allPositions });
    // messages are handled in order: the caches hold the new positions for every later message
    for (const r of rows) (r.cache as ThreadKvCache).length += r.ids.length;
    return p;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.pending.values()) p.reject(new Error('the model was disposed'));
    this.pending.clear();
    // The thread ends itself after the messages before this one (a pass still running included)
    // and its session's release; terminate only one that does not.
    this.worker.postMessage({ op: 'close' } satisfies ThreadRequest);
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    void this.exited.then(() => clearTimeout(timer));
  }
}
