// Byte-level probabilities from a tokenized model (Phan et al. 2024, Byte–Token Representation):
// P(text starts with x) = Σ over valid covers c of x of P(c). Used by the exactness test and by
// the healing eval (likelihood of the true continuation), not by the completion path.
import { TrellisError } from '../api';
import type { KvCache, LanguageModel, TokenizerLike } from '../interfaces';
import { Canonicalizer, type CoverOptions } from './covers';
import { PrefixIndex } from './prefix-index';
import { forwardLogits, keepValid, logAdd, logSumExp, scoreTail, type Logits, type ModelState } from './scoring';

export interface ByteDistribution {
  /** log P(text after the head starts with the prompt). */
  logPrompt: number;
  /** P(next byte = b | prompt), b = 0..255. */
  probs: Float64Array;
  /** P(the text ends right after the prompt | prompt). */
  end: number;
  modelCalls: number;
}

export interface ByteLevelOptions extends CoverOptions {
  /** Token ids that end a text (EOS); they give `ByteDistribution.end`. */
  endTokens?: readonly number[];
  /** Relative mass below which candidates are kept without a validity check (default 1e-13). */
  tolerance?: number;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Exact byte-level probabilities of a tokenized model, relative to a head state (the tokens
 * before the text: a BOS or a FIM header). Every method takes an AbortSignal.
 */
export class ByteLevelScorer {
  readonly canon: Canonicalizer;
  private readonly endTokens: readonly number[];
  private readonly tolerance: number;

  constructor(
    readonly model: LanguageModel,
    readonly tokenizer: TokenizerLike,
    options: ByteLevelOptions & { index?: PrefixIndex } = {},
  ) {
    this.canon = new Canonicalizer(tokenizer, options.index ?? new PrefixIndex(tokenizer), options);
    this.endTokens = options.endTokens ?? [];
    this.tolerance = options.tolerance ?? 1e-13;
  }

  /** Runs the head ids from an empty cache (the caller disposes the state's cache). */
  async prefill(headIds: readonly number[], signal?: AbortSignal): Promise<ModelState> {
    if (headIds.length === 0) throw new TrellisError('ByteLevelScorer.prefill: the head needs at least one token (a BOS or FIM token) to predict the first one', 'bad_request');
    checkAbort(signal);
    const cache = this.model.newCache();
    const [logits] = await forwardLogits(this.model, [{ ids: headIds, cache }]);
    return { cache, logits: logits! };
  }

  /** Shared part of `bytes` (before the stable tail) run after the head: its log-probability and state. */
  private async shared(head: ModelState, bytes: Uint8Array, signal?: AbortSignal): Promise<{ b: number; logp: number; state: ModelState; owned: boolean; modelCalls: number }> {
    const b = this.canon.tailStart(bytes);
    const ids = this.canon.encode(bytes.subarray(0, b));
    if (ids.length === 0) return { b, logp: 0, state: head, owned: false, modelCalls: 0 };
    checkAbort(signal);
    const cache = head.cache.fork();
    const [lg] = await forwardLogits(this.model, [{ ids, cache }], { allPositions: true });
    const V = this.model.vocabSize;
    let logp = 0;
    for (let j = 0; j < ids.length; j++) {
      const row: Logits = j === 0 ? head.logits : lg!;
      const off = j === 0 ? 0 : (j - 1) * V;
      logp += row[off + ids[j]!]! - logSumExp(row, off, V);
    }
    const last = lg!.subarray((ids.length - 1) * V, ids.length * V);
    return { b, logp, state: { cache, logits: last }, owned: true, modelCalls: 1 };
  }

  /** log P(the text after the head starts with `bytes`) = log Σ_covers P(cover). */
  async logProb(head: ModelState, bytes: Uint8Array, signal?: AbortSignal): Promise<{ logp: number; modelCalls: number }> {
    if (bytes.length === 0) return { logp: 0, modelCalls: 0 };
    const sh = await this.shared(head, bytes, signal);
    try {
      const tail = bytes.subarray(sh.b);
      const scored = await scoreTail(this.model, this.canon, sh.state, tail, signal);
      try {
        const { logSum } = keepValid(scored.logp, (k) => this.canon.isValidCover(tail, scored.covers[k]!), this.tolerance);
        return { logp: sh.logp + logSum, modelCalls: sh.modelCalls + scored.modelCalls };
      } finally {
        scored.dispose();
      }
    } finally {
      if (sh.owned) sh.state.cache.dispose();
    }
  }

  /** log P(continuation | prompt) = log P(prompt·continuation) − log P(prompt), both after the head. */
  async continuationLogProb(head: ModelState, prompt: Uint8Array, continuation: Uint8Array, signal?: AbortSignal): Promise<{ logp: number; modelCalls: number }> {
    const a = await this.logProb(head, concat(prompt, continuation), signal);
    const b = await this.logProb(head, prompt, signal);
    return { logp: a.logp - b.logp, modelCalls: a.modelCalls + b.modelCalls };
  }

  /**
   * The exact next-byte distribution after `prompt`: covers whose last token runs past the
   * prompt vote for their next byte; covers ending exactly at the prompt's end get one more
   * batched pass and vote with the first byte of every token that validly follows them (and
   * with the end tokens when the prompt is canonically encoded by them).
   */
  async nextByteDistribution(head: ModelState, prompt: Uint8Array, signal?: AbortSignal): Promise<ByteDistribution> {
    const sh = await this.shared(head, prompt, signal);
    const tail = prompt.subarray(sh.b);
    const m = tail.length;
    const V = this.model.vocabSize;
    const bytesOf = this.canon.index.bytesOf;
    const mass = new Float64Array(257).fill(-Infinity); // 256 = end
    let modelCalls = sh.modelCalls;
    /** Exact-ending covers: ids after the shared part, log P, and the state after them. */
    const exactEnds: { ids: number[]; logp: number; cache: KvCache; logits?: Logits; owned: boolean }[] = [];
    let logPrompt = -Infinity;
    const toDispose: KvCache[] = [];
    try {
      if (m === 0) {
        exactEnds.push({ ids: [], logp: 0, cache: sh.state.cache, logits: sh.state.logits, owned: false });
        logPrompt = 0;
      } else {
        const scored = await scoreTail(this.model, this.canon, sh.state, tail, signal);
        modelCalls += scored.modelCalls;
        scored.rows.forEach((r) => r.cache && toDispose.push(r.cache));
        const { kept, logSum } = keepValid(scored.logp, (k) => this.canon.isValidCover(tail, scored.covers[k]!), this.tolerance);
        logPrompt = logSum;
        for (const k of kept) {
          const c = scored.covers[k]!;
          const lb = bytesOf[c.last]!;
          const over = c.start + lb.length - m;
          if (over > 0) {
            const beta = lb[m - c.start]!;
            mass[beta] = logAdd(mass[beta]!, scored.logp[k]!);
          } else {
            const base = c.leftIndex < 0 ? sh.state.cache : scored.rows[c.leftIndex]!.cache!; // kept covers have run rows
            exactEnds.push({ ids: [...c.left, c.last], logp: scored.logp[k]!, cache: base.fork(), owned: true });
          }
        }
        // One batched pass: the last token of every exact-ending cover.
        const pending = exactEnds.filter((e) => !e.logits);
        if (pending.length > 0) {
          checkAbort(signal);
          const out = await forwardLogits(this.model, pending.map((e) => ({ ids: [e.ids[e.ids.length - 1]!], cache: e.cache })));
          pending.forEach((e, i) => (e.logits = out[i]!));
          modelCalls++;
        }
      }
      for (const e of exactEnds) {
        const lg = e.logits!;
        const logZ = logSumExp(lg, 0, V);
        const n = this.tokenizer.vocabSize;
        const lw = new Float64Array(n).fill(-Infinity);
        for (let u = 0; u < n; u++) {
          if (this.tokenizer.isSpecial(u) || bytesOf[u]!.length === 0) continue;
          lw[u] = e.logp + lg[u]! - logZ;
        }
        const { kept } = keepValid(lw, (u) => this.canon.isValidPrefix(concat(tail, bytesOf[u]!), [...e.ids, u]), this.tolerance);
        for (const u of kept) {
          const beta = bytesOf[u]![0]!;
          mass[beta] = logAdd(mass[beta]!, lw[u]!);
        }
        if (this.canon.isCanonical(tail, e.ids)) {
          for (const t of this.endTokens) mass[256] = logAdd(mass[256]!, e.logp + lg[t]! - logZ);
        }
      }
    } finally {
      for (const e of exactEnds) if (e.owned) e.cache.dispose();
      for (const c of toDispose) c.dispose();
      if (sh.owned) sh.state.cache.dispose();
    }
    const probs = new Float64Array(256);
    for (let b = 0; b < 256; b++) probs[b] = Math.exp(mass[b]! - logPrompt);
    return { logPrompt: sh.logp + logPrompt, probs, end: Math.exp(mass[256]! - logPrompt), modelCalls };
  }
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new TrellisError('healing: aborted', 'aborted');
}
