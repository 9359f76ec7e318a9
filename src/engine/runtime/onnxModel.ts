// The ONNX decoder on onnxruntime-node (CPU): a LanguageModel whose KvCache keeps the attention
// keys/values between steps, forks in O(1) (caches are immutable arrays, replaced on append),
// truncates, and runs several rows of different past lengths in one batch.
// Graph layout (optimum decoder-with-past): input_ids, attention_mask, position_ids (optional),
// past_key_values.{i}.key|value [b, kvHeads, past, headDim] → logits [b, s, vocab],
// present.{i}.key|value [b, kvHeads, past + s, headDim].
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import type { ForwardRow, KvCache, LanguageModel } from '../interfaces';

/** Shape of the attention cache, from config.json or the graph. */
export interface ModelGeometry {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Size of the logits' last axis (may exceed the tokenizer's vocabulary: padding). */
  vocabSize: number;
  contextLength: number;
  /** Graph inputs present besides ids/mask/past. */
  hasPositionIds: boolean;
  hasUseCacheBranch: boolean;
}

/**
 * One sequence's keys and values: per layer, Float32Arrays of shape [kvHeads, length, headDim].
 * The arrays are never written after creation, so fork() shares them.
 */
export class OnnxKvCache implements KvCache {
  /** keys[l], values[l]: [kvHeads, length, headDim]. */
  keys: Float32Array[];
  values: Float32Array[];
  private len: number;
  private disposed = false;

  constructor(readonly geometry: ModelGeometry, keys?: Float32Array[], values?: Float32Array[], length = 0) {
    const empty = new Float32Array(0);
    this.keys = keys ?? Array.from({ length: geometry.layers }, () => empty);
    this.values = values ?? Array.from({ length: geometry.layers }, () => empty);
    this.len = length;
  }

  get length(): number {
    return this.len;
  }

  fork(): OnnxKvCache {
    this.check();
    return new OnnxKvCache(this.geometry, this.keys.slice(), this.values.slice(), this.len);
  }

  truncate(length: number): void {
    this.check();
    if (length < 0 || !Number.isInteger(length)) throw new RangeError(`truncate: bad length ${length}`);
    if (length >= this.len) return;
    const { kvHeads, headDim } = this.geometry;
    const cut = (a: Float32Array): Float32Array => {
      const out = new Float32Array(kvHeads * length * headDim);
      for (let h = 0; h < kvHeads; h++) {
        out.set(a.subarray(h * this.len * headDim, (h * this.len + length) * headDim), h * length * headDim);
      }
      return out;
    };
    this.keys = this.keys.map(cut);
    this.values = this.values.map(cut);
    this.len = length;
  }

  /** Replaces the contents (used by the model after a forward pass). */
  set(keys: Float32Array[], values: Float32Array[], length: number): void {
    this.check();
    this.keys = keys;
    this.values = values;
    this.len = length;
  }

  dispose(): void {
    this.keys = [];
    this.values = [];
    this.len = 0;
    this.disposed = true;
  }

  private check(): void {
    if (this.disposed) throw new Error('KvCache used after dispose()');
  }
}

export interface OnnxModelOptions {
  /** Intra-op threads (default: min(4, cores)). */
  threads?: number;
  /** Let idle ORT threads spin (lower latency on an otherwise idle machine). Default false. */
  spinning?: boolean;
}

/** Number of CPU threads for one session: enough to use small machines, few enough to share big ones. */
export function defaultThreads(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, n));
}

/** Creates an ORT session for a model file (CPU execution provider). */
export async function createSession(modelPath: string, opts: OnnxModelOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads ?? defaultThreads(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // No busy-waiting between parallel sections: the engine shares the CPU with the editor, the
    // language servers and the user's builds, where spinning threads cost more than they save.
    extra: { session: { intra_op: { allow_spinning: opts.spinning ? '1' : '0' }, inter_op: { allow_spinning: '0' } } },
  });
}

/** Names and metadata the runtime needs from a session, for validation by the loader. */
export function sessionSignature(session: ort.InferenceSession): {
  inputs: { name: string; type?: string; shape?: readonly (number | string)[] }[];
  outputs: { name: string; type?: string; shape?: readonly (number | string)[] }[];
} {
  const meta = (m: readonly ort.InferenceSession.ValueMetadata[] | undefined, names: readonly string[]) =>
    names.map((name) => {
      const md = m?.find((x) => x.name === name);
      return md && md.isTensor ? { name, type: md.type, shape: md.shape } : { name };
    });
  return { inputs: meta(session.inputMetadata, session.inputNames), outputs: meta(session.outputMetadata, session.outputNames) };
}

/** A decoder-only LM on an ORT session. */
export class OnnxLanguageModel implements LanguageModel {
  readonly vocabSize: number;
  readonly contextLength: number;
  /** Forward passes run (batches count once). */
  calls = 0;
  private disposed = false;
  private readonly presentNames: { key: string; value: string }[];

  constructor(private readonly session: ort.InferenceSession, readonly geometry: ModelGeometry) {
    this.vocabSize = geometry.vocabSize;
    this.contextLength = geometry.contextLength;
    this.presentNames = Array.from({ length: geometry.layers }, (_, l) => ({ key: `present.${l}.key`, value: `present.${l}.value` }));
  }

  newCache(): OnnxKvCache {
    return new OnnxKvCache(this.geometry);
  }

  /**
   * Runs all rows in one batch. Past caches are left-padded to the longest (padding masked with
   * attention_mask = 0 and filled with zeros, so no NaN can leak through the mask); new ids are
   * right-padded to the longest row (padding comes after every real token, so causality already
   * hides it). position_ids continue each row's own cache length.
   */
  async forward(rows: readonly ForwardRow[], options: { allPositions?: boolean } = {}): Promise<Float32Array[]> {
    if (this.disposed) throw new Error('LanguageModel used after dispose()');
    if (rows.length === 0) return [];
    const { layers, kvHeads, headDim, vocabSize } = this.geometry;
    const caches = rows.map((r) => {
      if (!(r.cache instanceof OnnxKvCache)) throw new TypeError('OnnxLanguageModel.forward: cache from another model');
      return r.cache;
    });
    for (const r of rows) {
      if (r.ids.length === 0) throw new RangeError('forward: a row has no ids');
      if (r.cache.length + r.ids.length > this.contextLength) {
        throw new RangeError(`forward: ${r.cache.length + r.ids.length} positions exceed the model's context of ${this.contextLength}`);
      }
    }
    const b = rows.length;
    const maxPast = Math.max(...caches.map((c) => c.length));
    const maxNew = Math.max(...rows.map((r) => r.ids.length));
    const total = maxPast + maxNew;

    const ids = new BigInt64Array(b * maxNew);
    const mask = new BigInt64Array(b * total);
    const pos = new BigInt64Array(b * maxNew);
    rows.forEach((r, i) => {
      const past = caches[i]!.length;
      for (let j = 0; j < maxNew; j++) {
        const real = j < r.ids.length;
        ids[i * maxNew + j] = BigInt(real ? r.ids[j]! : 0);
        pos[i * maxNew + j] = BigInt(real ? past + j : past + r.ids.length - 1);
      }
      for (let j = maxPast - past; j < maxPast + r.ids.length; j++) mask[i * total + j] = 1n;
    });
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [b, maxNew]),
      attention_mask: new ort.Tensor('int64', mask, [b, total]),
    };
    if (this.geometry.hasPositionIds) feeds.position_ids = new ort.Tensor('int64', pos, [b, maxNew]);
    if (this.geometry.hasUseCacheBranch) feeds.use_cache_branch = new ort.Tensor('bool', Uint8Array.of(maxPast > 0 ? 1 : 0), [1]);
    const dims = [b, kvHeads, maxPast, headDim];
    for (let l = 0; l < layers; l++) {
      feeds[`past_key_values.${l}.key`] = new ort.Tensor('float32', this.padPast(caches, l, 'keys', maxPast), dims);
      feeds[`past_key_values.${l}.value`] = new ort.Tensor('float32', this.padPast(caches, l, 'values', maxPast), dims);
    }

    const out = await this.session.run(feeds);
    this.calls++;
    const logitsT = out.logits as ort.Tensor | undefined;
    if (!logitsT) throw new Error('the ONNX graph returned no `logits` output');
    const logits = logitsT.data as Float32Array;
    const v = logitsT.dims[2] as number;
    if (v !== vocabSize) throw new Error(`logits have ${v} entries per position, expected ${vocabSize}`);

    // Extract each row's new positions from the present tensors.
    for (let i = 0; i < b; i++) {
      const cache = caches[i]!;
      const past = cache.length;
      const n = rows[i]!.ids.length;
      const len = past + n;
      const keys: Float32Array[] = [];
      const values: Float32Array[] = [];
      for (let l = 0; l < layers; l++) {
        const pk = out[this.presentNames[l]!.key] as ort.Tensor;
        const pv = out[this.presentNames[l]!.value] as ort.Tensor;
        keys.push(extractRow(pk.data as Float32Array, i, kvHeads, total, headDim, maxPast - past, len, b === 1 && maxPast === past && n === maxNew));
        values.push(extractRow(pv.data as Float32Array, i, kvHeads, total, headDim, maxPast - past, len, b === 1 && maxPast === past && n === maxNew));
      }
      cache.set(keys, values, len);
    }

    return rows.map((r, i) => {
      const n = r.ids.length;
      const base = i * maxNew * v;
      if (options.allPositions) return logits.slice(base, base + n * v);
      return logits.slice(base + (n - 1) * v, base + n * v);
    });
  }

  /** [b, kvHeads, maxPast, headDim] with each row's cache right-aligned (left padding of zeros). */
  private padPast(caches: OnnxKvCache[], layer: number, which: 'keys' | 'values', maxPast: number): Float32Array {
    const { kvHeads, headDim } = this.geometry;
    if (caches.length === 1 && caches[0]!.length === maxPast) return caches[0]![which][layer]!;
    // Rows that are consecutive views of one earlier present tensor (a batch advanced in lockstep,
    // e.g. the GeDi discriminator's rows) are that tensor already: no copy.
    const first = caches[0]![which][layer]!;
    const rowLen = kvHeads * maxPast * headDim;
    // (Only a whole buffer: a typed array at an offset is not handed to ORT.)
    if (first.length === rowLen && first.byteOffset === 0 && first.buffer.byteLength === caches.length * rowLen * 4 && caches.every((c, i) => {
      const a = c[which][layer]!;
      return c.length === maxPast && a.buffer === first.buffer && a.length === rowLen && a.byteOffset === i * rowLen * 4;
    })) {
      return new Float32Array(first.buffer, 0, caches.length * rowLen);
    }
    const out = new Float32Array(caches.length * kvHeads * maxPast * headDim);
    caches.forEach((c, i) => {
      const src = c[which][layer]!;
      const len = c.length;
      for (let h = 0; h < kvHeads; h++) {
        out.set(src.subarray(h * len * headDim, (h + 1) * len * headDim), ((i * kvHeads + h) * maxPast + (maxPast - len)) * headDim);
      }
    });
    return out;
  }

  dispose(): void {
    void this.release();
  }

  /** dispose(), resolved once the session's native resources are freed. */
  async release(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}

/**
 * Row `i` of a present tensor [b, heads, total, headDim], positions [start, start + len), as
 * [heads, len, headDim]. When the whole tensor is exactly that row (`whole`), it is used as is.
 */
function extractRow(data: Float32Array, i: number, heads: number, total: number, headDim: number, start: number, len: number, whole: boolean): Float32Array {
  if (whole) return data;
  // A row without left padding is contiguous: a view (caches never write into their arrays).
  if (start === 0 && len === total) return data.subarray(i * heads * total * headDim, (i + 1) * heads * total * headDim);
  const out = new Float32Array(heads * len * headDim);
  for (let h = 0; h < heads; h++) {
    const src = ((i * heads + h) * total + start) * headDim;
    out.set(data.subarray(src, src + len * headDim), h * len * headDim);
  }
  return out;
}
