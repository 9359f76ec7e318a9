// The model thread (threadModel.ts): one ONNX session and its caches, answering messages in order.
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, OnnxLanguageModel, type OnnxKvCache } from './onnxModel';
import type { ThreadInit, ThreadReply, ThreadRequest } from './threadModel';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('model-thread.js runs as a worker thread of the Trellis engine');
  const init = workerData as ThreadInit;
  let model: OnnxLanguageModel;
  try {
    model = new OnnxLanguageModel(await createSession(init.onnxFile, { threads: init.threads }), init.geometry);
  } catch (e) {
    port.postMessage({ fatal: `${init.onnxFile}: ${(e as Error).message}` } satisfies ThreadReply);
    return;
  }
  const caches = new Map<number, OnnxKvCache>();
  // forward passes run one at a time, in arrival order, with the cache operations between them
  let queue = Promise.resolve();
  port.on('message', (m: ThreadRequest) => {
    queue = queue.then(async () => {
      switch (m.op) {
        case 'new': caches.set(m.id, model.newCache()); break;
        case 'fork': { const c = caches.get(m.from); if (c) caches.set(m.id, c.fork() as OnnxKvCache); break; }
        case 'truncate': caches.get(m.id)?.truncate(m.length); break;
        case 'dispose': caches.get(m.id)?.dispose(); caches.delete(m.id); break;
        case 'close':
          // after every earlier message (the queue is in order): release the session, then let
          // the thread end (nothing else keeps it alive once the port is closed)
          for (const c of caches.values()) c.dispose();
          caches.clear();
          await model.release();
          port.close();
          break;
        case 'forward': {
          try {
            const rows = m.rows.map((r) => {
              const cache = caches.get(r.id);
              if (!cache) throw new Error(`unknown cache ${r.id}`);
              return { ids: r.ids, cache };
            });
            const logits = await model.forward(rows, { allPositions: m.allPositions });
            const copies = logits.map((l) => l.slice());
            port.postMessage({ req: m.req, logits: copies } satisfies ThreadReply, copies.map((l) => l.buffer));
          } catch (e) {
            port.postMessage({ req: m.req, error: (e as Error).message } satisfies ThreadReply);
          }
          break;
        }
      }
    });
  });
  port.postMessage({ ready: true } satisfies ThreadReply);
}

void main();
