// Scoring cover encodings with the model: one batched forward pass over the distinct left parts
// of a tail (each row forks the prompt's KV cache), log-probabilities of every cover, and the
// two ways covers are used: drawing one (healing) and summing them (byte-level probabilities).
import { TrellisError } from '../api';
import type { ForwardRow, KvCache, LanguageModel } from '../interfaces';
import type { Canonicalizer, CoverCandidate } from './covers';

/** Most covers fully checked (with probes) to prove that a left part needs no row. */
const PRUNE_CHECKS = 64;

/** Raw next-token scores; float64 where a model offers it (exact reference models). */
export type Logits = Float32Array | Float64Array;

/**
 * A model that can also return float64 logits. Exact reference models implement it so that
 * byte-level probabilities can be checked to 1e-9; the ONNX model returns float32 only.
 */
export interface PreciseLanguageModel extends LanguageModel {
  forward64(rows: readonly ForwardRow[], options?: { allPositions?: boolean }): Promise<Float64Array[]>;
}

/** `forward64` when the model has it, else `forward`. */
export function forwardLogits(model: LanguageModel, rows: readonly ForwardRow[], options?: { allPositions?: boolean }): Promise<Logits[]> {
  const m = model as Partial<PreciseLanguageModel>;
  return typeof m.forward64 === 'function' ? m.forward64.call(model, rows, options) : model.forward(rows, options);
}

/** log Σ exp over logits[offset, offset + n); −Infinity when every entry is −Infinity. */
export function logSumExp(logits: ArrayLike<number>, offset = 0, n = logits.length - offset): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i]!;
    if (v > max) max = v;
  }
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(logits[offset + i]! - max);
  return max + Math.log(s);
}

/** log(exp(a) + exp(b)) without overflow. */
export function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** Log-probability of `id` under one row of logits (`vocab` wide, at `offset`), with its cached normaliser. */
function logProbAt(logits: Logits, offset: number, logZ: number, id: number): number {
  if (logZ === -Infinity) return -Infinity;
  return logits[offset + id]! - logZ;
}

/** A model state: a KV cache and the logits after its last position. */
export interface ModelState {
  cache: KvCache;
  logits: Logits;
}

/** Covers of a tail scored against one prompt state. Row caches are owned by the caller (dispose()). */
export interface ScoredTail {
  tail: Uint8Array;
  covers: CoverCandidate[];
  /** log P(cover | prompt), per cover. */
  logp: Float64Array;
  /**
   * Per distinct left part: the fork extended by it, and log P(left | prompt). Left parts with
   * no canonical cover are not run (no cache, log P = −∞).
   */
  rows: { left: readonly number[]; cache?: KvCache; logp: number }[];
  /** Forward passes made (0 or 1). */
  modelCalls: number;
  /** Releases every row cache except the one given (by left index); all when omitted. */
  dispose(keep?: number): void;
}

/**
 * Scores every candidate cover of `tail` after `state`: one prefill is already in `state`; the
 * distinct left parts run as one batch of short rows. Cost: one forward pass with at most
 * `tail.length − 1 + probes` rows of a few tokens each.
 */
export async function scoreTail(model: LanguageModel, canon: Canonicalizer, state: ModelState, tail: Uint8Array, signal?: AbortSignal): Promise<ScoredTail> {
  const { lefts, covers } = canon.candidates(tail);
  const V = model.vocabSize;
  // A left part none of whose covers can be canonical is not worth a row: rows cost a copy of
  // the prompt's KV cache each. Cheap standalone checks first; the full check (probes) on at
  // most PRUNE_CHECKS covers — a row still undecided after that is run (the safe side).
  const byLeft: number[][] = lefts.map(() => []);
  covers.forEach((c, k) => {
    if (c.leftIndex >= 0) byLeft[c.leftIndex]!.push(k);
  });
  const alive = byLeft.map(
    (ks) =>
      ks.some((k) => canon.isCanonicalStart(tail, covers[k]!)) ||
      ks.length > PRUNE_CHECKS ||
      ks.some((k) => canon.isValidCover(tail, covers[k]!)),
  );
  const slot = new Int32Array(lefts.length).fill(-1);
  const rowsIn: ForwardRow[] = [];
  lefts.forEach((left, r) => {
    if (alive[r]) slot[r] = rowsIn.push({ ids: left, cache: state.cache.fork() }) - 1;
  });
  let rowLogits: Logits[] = [];
  let modelCalls = 0;
  const disposeRows = (keep = -2): void => {
    rowsIn.forEach((r, i) => {
      if (i !== (keep >= 0 ? slot[keep] : -2)) r.cache.dispose();
    });
  };
  if (rowsIn.length > 0) {
    if (signal?.aborted) {
      disposeRows();
      throw new TrellisError('healing: aborted', 'aborted');
    }
    rowLogits = await forwardLogits(model, rowsIn, { allPositions: true });
    modelCalls = 1;
  }
  const headZ = logSumExp(state.logits, 0, V);
  // Per left part: log P(left) and the normaliser of its last position (−∞ for pruned ones).
  const rows = lefts.map((left, r) => {
    if (slot[r]! < 0) return { left, cache: undefined, logp: -Infinity, lastZ: -Infinity, lg: undefined };
    const lg = rowLogits[slot[r]!]!;
    let lp = logProbAt(state.logits, 0, headZ, left[0]!);
    for (let j = 1; j < left.length; j++) lp += logProbAt(lg, (j - 1) * V, logSumExp(lg, (j - 1) * V, V), left[j]!);
    return { left, cache: rowsIn[slot[r]!]!.cache, logp: lp, lastZ: logSumExp(lg, (left.length - 1) * V, V), lg };
  });
  const logp = new Float64Array(covers.length);
  covers.forEach((c, k) => {
    if (c.leftIndex < 0) {
      logp[k] = logProbAt(state.logits, 0, headZ, c.last);
    } else {
      const row = rows[c.leftIndex]!;
      logp[k] = row.lg ? row.logp + logProbAt(row.lg, (row.left.length - 1) * V, row.lastZ, c.last) : -Infinity;
    }
  });
  return {
    tail,
    covers,
    logp,
    rows: rows.map(({ left, cache, logp: lp }) => ({ left, cache, logp: lp })),
    modelCalls,
    dispose: disposeRows,
  };
}

/**
 * Indices of items in decreasing weight order, checking `isValid` until the unchecked rest is
 * negligible (≤ `tolerance` × accepted mass): those are kept unchecked (keeping is the safe side).
 * Weights of −Infinity are dropped. Returns the kept indices and their log-sum.
 */
export function keepValid(logw: Float64Array, isValid: (i: number) => boolean, tolerance = 1e-13): { kept: number[]; logSum: number } {
  const order = Array.from(logw.keys()).filter((i) => logw[i]! > -Infinity);
  order.sort((a, b) => logw[b]! - logw[a]! || a - b);
  if (order.length === 0) return { kept: [], logSum: -Infinity };
  const top = logw[order[0]!]!;
  const w = order.map((i) => Math.exp(logw[i]! - top));
  const rest = new Float64Array(order.length + 1);
  for (let k = order.length - 1; k >= 0; k--) rest[k] = rest[k + 1]! + w[k]!;
  const kept: number[] = [];
  let acc = 0;
  for (let k = 0; k < order.length; k++) {
    if (acc > 0 && rest[k]! <= tolerance * acc) {
      for (let j = k; j < order.length; j++) kept.push(order[j]!);
      acc += rest[k]!;
      break;
    }
    if (isValid(order[k]!)) {
      kept.push(order[k]!);
      acc += w[k]!;
    }
  }
  return { kept, logSum: acc > 0 ? top + Math.log(acc) : -Infinity };
}

/**
 * Draws one item ∝ exp(logw / temperature) among those passing `accept`, checking only drawn
 * items (rejection: a rejected item is removed and the draw repeated — the same law as checking
 * all first). Temperature 0: the best accepted item. Returns −1 when none is accepted.
 */
export function drawAccepted(logw: Float64Array, accept: (i: number) => boolean, temperature: number, uniform: () => number): number {
  if (!(temperature > 0)) {
    // Greedy: repeated argmax (lowest index on ties); the first one is almost always accepted.
    const dead = new Uint8Array(logw.length);
    for (;;) {
      let best = -1;
      for (let i = 0; i < logw.length; i++) if (!dead[i] && logw[i]! > -Infinity && (best < 0 || logw[i]! > logw[best]!)) best = i;
      if (best < 0) return -1;
      if (accept(best)) return best;
      dead[best] = 1;
    }
  }
  const alive = Array.from(logw.keys()).filter((i) => logw[i]! > -Infinity);
  let top = -Infinity;
  for (const i of alive) top = Math.max(top, logw[i]!);
  const w = new Float64Array(logw.length);
  let total = 0;
  for (const i of alive) {
    w[i] = Math.exp((logw[i]! - top) / temperature);
    total += w[i]!;
  }
  while (total > 0) {
    let u = uniform() * total;
    let pick = -1;
    for (const i of alive) {
      if (w[i]! <= 0) continue;
      pick = i;
      u -= w[i]!;
      if (u < 0) break;
    }
    if (pick < 0) return -1;
    if (accept(pick)) return pick;
    total -= w[pick]!;
    w[pick] = 0;
  }
  return -1;
}
