// The prompt-tail healers the decode loop runs before its first step (hooks.ts PromptTailHealer):
// `token` (back off the last token, force the next ones to re-spell it: the common baseline) and
// `exact` (draw a cover encoding of the tail in proportion to its probability, algorithms.md §4).
// Both re-spell the tail, so the completion starts with it; the engine reports it as
// `respelledChars`.
import { TrellisError, type HealingMode } from '../api';
import type { HealArgs, HealResult, PromptTailHealer } from '../decode/hooks';
import type { KvCache, Matcher, TokenizerLike } from '../interfaces';
import { Canonicalizer, type CoverOptions } from './covers';
import { PrefixIndex, startsWith } from './prefix-index';
import { drawAccepted, scoreTail } from './scoring';

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A grammar check on candidate bytes, run on a snapshot so the matcher is left unchanged. */
export function matcherViability(matcher: Matcher): (bytes: Uint8Array) => boolean {
  return (bytes) => {
    const snap = matcher.snapshot();
    try {
      return matcher.consumeBytes(bytes);
    } finally {
      matcher.restore(snap);
    }
  };
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new TrellisError('healing: aborted', 'aborted');
}

/** Moves `offset` back to the start of the UTF-8 character it is in. */
function charStart(bytes: Uint8Array, offset: number): number {
  while (offset > 0 && offset < bytes.length && (bytes[offset]! & 0xc0) === 0x80) offset--;
  return offset;
}

/** Options of both healers. */
export interface HealerOptions extends CoverOptions {
  /** Shared vocabulary index (built from the tokenizer when absent). */
  index?: PrefixIndex;
}

/**
 * Token healing, the baseline: the tail is the last token of the prompt (widened to whole
 * UTF-8 characters); each forced step samples among tokens consistent with what remains of
 * the tail (extending it, or a prefix of it), with the request's sampling parameters.
 */
export class TokenHealer implements PromptTailHealer {
  readonly mode = 'token' as const;
  readonly canon: Canonicalizer;

  constructor(readonly tokenizer: TokenizerLike, options: HealerOptions = {}) {
    this.canon = new Canonicalizer(tokenizer, options.index ?? new PrefixIndex(tokenizer), options);
  }

  tailLength(prefix: Uint8Array): number {
    const n = prefix.length;
    if (n === 0) return 0;
    // The last token of the whole encoding is the last token of the last pre-token chunk.
    const win = prefix.subarray(Math.max(0, n - 256));
    const bounds = this.tokenizer.preTokenizeBoundaries(win);
    const chunkStart = bounds.length >= 2 ? bounds[bounds.length - 2]! : 0;
    const ids = this.canon.encode(win.subarray(chunkStart));
    const last = ids[ids.length - 1];
    if (last === undefined) return 0;
    const start = charStart(prefix, n - this.canon.index.bytesOf[last]!.length);
    return n - start;
  }

  async heal(args: HealArgs): Promise<HealResult> {
    const { model, tail, sampling } = args;
    const index = this.canon.index;
    const viable = args.matcher ? matcherViability(args.matcher) : null;
    const cache: KvCache = args.cache.fork();
    let logits: Float32Array = args.lastLogits;
    const forced: number[] = [];
    let done = 0;
    let modelCalls = 0;
    let covers = 0;
    try {
      while (done < tail.length) {
        checkAbort(args.signal);
        const rest = tail.subarray(done);
        // Tokens extending the rest, and tokens that are a proper prefix of it.
        const allowed: number[] = Array.from(index.tokensWithPrefix(rest));
        for (let k = 1; k < rest.length; k++) {
          const ext = index.tokensWithPrefix(rest.subarray(0, k));
          if (ext.length > 0 && index.bytesOf[ext[0]!]!.length === k) allowed.push(ext[0]!);
        }
        if (covers === 0) covers = allowed.length;
        const scores = new Float32Array(logits.length).fill(-Infinity);
        for (const t of allowed) scores[t] = logits[t]!;
        const doneBytes = tail.subarray(0, done);
        let t = -1;
        for (;;) {
          t = sampling.sample(scores);
          if (t < 0) break;
          if (!viable || viable(concat([doneBytes, index.bytesOf[t]!]))) break;
          scores[t] = -Infinity;
        }
        if (t < 0) break;
        forced.push(t);
        done += index.bytesOf[t]!.length;
        // Another forced step needs the logits after t; the last one is left to the loop, which
        // commits the forced tokens (bytes past the cursor come out) before running them.
        if (done < tail.length) {
          [logits] = (await model.forward([{ ids: [t], cache }])) as [Float32Array];
          modelCalls++;
        }
      }
    } finally {
      cache.dispose();
    }
    // Nothing viable: re-spell the tail canonically.
    if (done < tail.length) return { forcedIds: this.canon.encode(tail).slice(), modelCalls, covers };
    return { forcedIds: forced, modelCalls, covers };
  }
}

/**
 * Exact byte-level healing: the tail is everything after the last stable pre-tokenizer
 * boundary; every cover of it is scored (one batched pass over its left parts), covers that
 * are non-canonical or not viable for the grammar are dropped (checked lazily, on the drawn
 * cover only: rejection keeps the law), and one cover is drawn ∝ P(cover)^(1/T) (greedy at
 * T = 0). The forced ids are the cover's tokens after the prompt; the loop continues from them.
 */
export class ExactHealer implements PromptTailHealer {
  readonly mode = 'exact' as const;
  readonly canon: Canonicalizer;

  constructor(readonly tokenizer: TokenizerLike, options: HealerOptions = {}) {
    this.canon = new Canonicalizer(tokenizer, options.index ?? new PrefixIndex(tokenizer), options);
  }

  tailLength(prefix: Uint8Array): number {
    return prefix.length - this.canon.tailStart(prefix);
  }

  async heal(args: HealArgs): Promise<HealResult> {
    const { model, tail, sampling } = args;
    if (tail.length === 0) return { forcedIds: [], modelCalls: 0, covers: 0 };
    checkAbort(args.signal);
    const viable = args.matcher ? matcherViability(args.matcher) : null;
    const scored = await scoreTail(model, this.canon, { cache: args.cache, logits: args.lastLogits }, tail, args.signal);
    const accept = (k: number): boolean => {
      const c = scored.covers[k]!;
      if (!this.canon.isValidCover(tail, c)) return false;
      return !viable || viable(this.canon.coverBytes(tail, c));
    };
    const k = drawAccepted(scored.logp, accept, sampling.params.temperature, () => sampling.rng.next());
    if (k < 0) {
      scored.dispose();
      return { forcedIds: this.canon.encode(tail).slice(), modelCalls: scored.modelCalls, covers: scored.covers.length };
    }
    // No forward pass for the drawn cover here: the loop commits the forced tokens first (so the
    // bytes past the cursor are out one pass earlier), then runs them in one call.
    const c = scored.covers[k]!;
    scored.dispose();
    return { forcedIds: [...c.left, c.last], modelCalls: scored.modelCalls, covers: scored.covers.length };
  }
}

/** The healer for a mode (null for `off`). */
export function createHealer(mode: HealingMode, tokenizer: TokenizerLike, options: HealerOptions = {}): PromptTailHealer | null {
  if (mode === 'off') return null;
  return mode === 'token' ? new TokenHealer(tokenizer, options) : new ExactHealer(tokenizer, options);
}

/** Bytes a forced sequence adds beyond the cursor (the tail re-spelled, then this). */
export function bytesBeyond(tokenizer: TokenizerLike, forcedIds: readonly number[], tail: Uint8Array): Uint8Array {
  const all = tokenizer.decodeBytes(forcedIds);
  return startsWith(all, tail) ? all.slice(tail.length) : new Uint8Array(0);
}
