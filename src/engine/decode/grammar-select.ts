// The grammar modes as token selectors (hooks.ts TokenSelector): `mask` — constrained decoding
// with opportunistic checking (algorithms.md §1) — and `aligned` — ASAp (§2) over the θ trie of
// asap-trie.ts. Both end only where the suffix check of grammar-suffix.ts passes (§3), stop with a
// dead end (−1 → stopReason 'grammar') when nothing is allowed, and can trim a completion cut by
// max tokens or a loop guard back to the last point where ending is allowed.
import type { StopReason } from '../api';
import type { Matcher, MatcherSnapshot, TokenizerLike } from '../interfaces';
import type { AsapNode, AsapTrie } from './asap-trie';
import type { SelectContext, SelectorStats, TokenSelector } from './hooks';
import { sampleToken } from './sampler';
import { CLOSER_WINDOW_LINES, lineCloser, recentLines, suffixAccepted, type SuffixPlan } from './grammar-suffix';

/** Draws `mask` tries after a rejection (each one `allows` check) before computing the full mask. */
const MASK_REDRAWS = 6;

/** Token boundaries (latest first) where trimEnd tries to close what is open. */
const CLOSE_TRIES = 8;

/**
 * End tokens less likely than this are treated as not allowed without running the suffix check
 * (a pass over the whole suffix): they would be drawn less than once in a million steps.
 */
export const END_WEIGHT_FLOOR = 1e-6;

/** Bit `t` of a mask from Matcher.computeMask. */
export function maskHas(mask: Uint32Array, t: number): boolean {
  return ((mask[t >>> 5]! >>> (t & 31)) & 1) === 1;
}

/** Draws an index ∝ `w` (non-negative, total > 0) with one uniform `u` in [0, 1). */
export function drawIndex(w: Float64Array, total: number, u: number): number {
  let x = u * total;
  let last = -1;
  for (let i = 0; i < w.length; i++) {
    const wi = w[i]!;
    if (wi <= 0) continue;
    last = i;
    x -= wi;
    if (x < 0) return i;
  }
  return last; // float rounding: the last positive weight
}

export interface GrammarSelectorInit {
  /** Grammar state after the prompt's prefix (the selector owns it for the completion). */
  matcher: Matcher;
  plan: SuffixPlan;
  tokenizer: TokenizerLike;
  /**
   * Most suffix checks tried when trimming a cut completion back to an allowed end (each one
   * runs the matcher over the suffix).
   */
  maxTrimChecks?: number;
  /**
   * From this fraction of maxTokens on, the completion ends at the first step where ending is
   * allowed (one suffix check per step), so that it rarely runs into max tokens with no point
   * to trim back to. Default 1 (off: the sampling law is untouched, as the exactness tests
   * need); the engine's sessions use 0.75.
   */
  endPressureAt?: number;
  /** The last lines of the prefix, for closing what a cut completion left open (trimEnd). */
  closerContext?: Uint8Array;
}

/** Shared by both modes: matcher bookkeeping, the lazy end check, stats and trimming. */
abstract class GrammarSelectorBase implements TokenSelector {
  abstract readonly name: string;
  protected readonly matcher: Matcher;
  protected readonly plan: SuffixPlan;
  protected readonly tokenizer: TokenizerLike;
  protected maskedSteps = 0;
  /** A forced token the grammar rejected: constraints are off for the rest of this completion. */
  protected broken = false;
  /** Matcher state after each committed token, and the completion length in bytes there. */
  private readonly history: { snap: MatcherSnapshot; bytes: number }[] = [];
  private readonly tokens: number[] = [];
  private bytes = 0;
  /** Bytes of the forced (healing) tokens: trimming never cuts into them. −1 until the first select. */
  protected forcedBytes = -1;
  private endMemo = { step: -1, ok: false };
  private readonly maxTrimChecks: number;
  private readonly endPressureAt: number;
  private readonly closerContext: Uint8Array | null;

  constructor(init: GrammarSelectorInit) {
    this.matcher = init.matcher;
    this.plan = init.plan;
    this.tokenizer = init.tokenizer;
    this.maxTrimChecks = init.maxTrimChecks ?? 64;
    this.endPressureAt = init.endPressureAt ?? 1;
    this.closerContext = init.closerContext ?? null;
    this.history.push({ snap: this.matcher.snapshot(), bytes: 0 });
  }

  abstract select(ctx: SelectContext): number;

  /**
   * Call at the start of every select(): the first call marks the end of the forced tokens.
   * Returns an end token to stop with now (end pressure near max tokens), or −1.
   */
  protected begin(ctx: SelectContext): number {
    if (this.forcedBytes < 0) this.forcedBytes = this.bytes;
    const max = ctx.sampling.params.maxTokens;
    if (this.endPressureAt >= 1 || this.broken || ctx.step < Math.floor(max * this.endPressureAt)) return -1;
    let best = -1;
    for (const e of ctx.endTokens) if (e < ctx.scores.length && ctx.scores[e]! > -Infinity && (best < 0 || ctx.scores[e]! > ctx.scores[best]!)) best = e;
    return best >= 0 && this.endOk(ctx) ? best : -1;
  }

  /**
   * May the completion end here? Evaluated only when an end token is in play (one suffix pass
   * at most per step), never eagerly. This is why the selector has no `canEnd`: the loop would
   * call it on every step.
   */
  protected endOk(ctx: SelectContext): boolean {
    if (!ctx.endAllowed) return false;
    if (this.broken) return true;
    if (this.endMemo.step !== this.history.length) {
      this.endMemo = { step: this.history.length, ok: suffixAccepted(this.matcher, this.plan) };
    }
    return this.endMemo.ok;
  }

  /** Whether token `t` may come next (end tokens: where the suffix check passes). */
  protected allowed(ctx: SelectContext, t: number): boolean {
    return ctx.endTokens.has(t) ? this.endOk(ctx) : this.matcher.allows(t);
  }

  /**
   * The full allowed set as a mask. End tokens are included when ending is allowed here; the
   * suffix check runs only if some end token has weight ≥ END_WEIGHT_FLOOR under the law being
   * sampled (`endWeight`), so steps where ending is out of the question cost no suffix pass.
   * Counts a masked step.
   */
  protected fullMask(ctx: SelectContext, endWeight: (token: number) => number): Uint32Array {
    this.maskedSteps++;
    const mask = Uint32Array.from(this.matcher.computeMask());
    let endInPlay = false;
    for (const e of ctx.endTokens) if (e < ctx.scores.length && endWeight(e) >= END_WEIGHT_FLOOR) endInPlay = true;
    if (endInPlay && this.endOk(ctx)) for (const e of ctx.endTokens) mask[e >>> 5]! |= 1 << (e & 31);
    else for (const e of ctx.endTokens) mask[e >>> 5]! &= ~(1 << (e & 31));
    return mask;
  }

  accept(token: number): void {
    if (!this.broken && !this.matcher.consume(token)) this.broken = true;
    this.bytes += this.tokenizer.tokenBytes(token).length;
    this.history.push({ snap: this.matcher.snapshot(), bytes: this.bytes });
    this.tokens.push(token);
    this.committed(token);
  }

  protected committed(_token: number): void {}

  stats(): SelectorStats {
    return { maskedSteps: this.maskedSteps, suffixCheck: this.broken ? 'none' : this.plan.check };
  }

  /**
   * Decoding stopped without an end token (max tokens, loop guard, stop string), keeping
   * `keepBytes` bytes. Returns the longest length ≤ keepBytes where ending is allowed, trying
   * the cut itself and then token boundaries backwards (at most `maxTrimChecks` checks); else,
   * with `closerContext`, a boundary plus the closing delimiters that make the file parse; else
   * `keepBytes` unchanged (also when the grammar broke or there is no check).
   */
  trimEnd(reason: StopReason, keepBytes: number): number | { keepBytes: number; append: Uint8Array } {
    if (this.broken || this.plan.check === 'none' || reason === 'aborted' || reason === 'grammar') return keepBytes;
    const current = this.matcher.snapshot();
    try {
      let checks = 0;
      // Last committed boundary at or before the cut.
      let i = this.history.length - 1;
      while (i > 0 && this.history[i]!.bytes > keepBytes) i--;
      const floor = Math.max(0, this.forcedBytes);
      if (keepBytes < floor) return keepBytes;
      const h = this.history[i]!;
      if (h.bytes < keepBytes) {
        // The cut falls inside a token (stop string / loop guard): feed the partial bytes.
        const all = this.tokenBytesUpTo(keepBytes);
        this.matcher.restore(h.snap);
        checks++;
        if (this.matcher.consumeBytes(all.subarray(h.bytes, keepBytes)) && suffixAccepted(this.matcher, this.plan)) return keepBytes;
      }
      const top = i;
      for (; i >= 0 && this.history[i]!.bytes >= floor && checks < this.maxTrimChecks; i--, checks++) {
        this.matcher.restore(this.history[i]!.snap);
        if (suffixAccepted(this.matcher, this.plan)) return this.history[i]!.bytes;
      }
      return this.closeAt(top, floor) ?? keepBytes;
    } finally {
      this.matcher.restore(current);
    }
  }

  /**
   * No boundary lets the completion end: try closing what is open instead — at the latest
   * token boundaries, append the string delimiter and brackets left open (lineCloser, with and
   * without a block colon) and keep the first that the suffix check accepts.
   */
  private closeAt(top: number, floor: number): { keepBytes: number; append: Uint8Array } | null {
    if (!this.closerContext) return null;
    const enc = new TextEncoder();
    const all = this.tokenBytesUpTo(this.bytes);
    for (let i = top, tries = 0; i >= 0 && this.history[i]!.bytes >= floor && tries < CLOSE_TRIES; i--, tries++) {
      const h = this.history[i]!;
      const ctx = new Uint8Array(this.closerContext.length + h.bytes);
      ctx.set(this.closerContext);
      ctx.set(all.subarray(0, h.bytes), this.closerContext.length);
      const closer = lineCloser(recentLines(ctx, CLOSER_WINDOW_LINES));
      if (!closer) continue;
      for (const c of [closer, `${closer}:`]) {
        const bytes = enc.encode(c);
        this.matcher.restore(h.snap);
        if (this.matcher.consumeBytes(bytes) && suffixAccepted(this.matcher, this.plan)) return { keepBytes: h.bytes, append: bytes };
      }
    }
    return null;
  }

  private tokenBytesUpTo(n: number): Uint8Array {
    const out = new Uint8Array(Math.max(n, this.bytes));
    let at = 0;
    for (const t of this.tokens) {
      const b = this.tokenizer.tokenBytes(t);
      out.set(b.subarray(0, Math.min(b.length, out.length - at)), at);
      at += b.length;
      if (at >= n) break;
    }
    return out;
  }
}

/**
 * `mask`: GCD with opportunistic checking. Draws from the sampler's (truncated) distribution;
 * a rejected token is removed and the draw repeated a few times (rejection sampling), and only
 * then is the full mask computed and the draw made from the same distribution restricted to
 * allowed tokens — at every stage the same law as masking first. If the
 * truncation left no allowed token (greedy, tight top-p), the masked scores are sampled afresh.
 */
export class MaskSelector extends GrammarSelectorBase {
  readonly name = 'grammar-mask';

  select(ctx: SelectContext): number {
    const { sampling, scores } = ctx;
    const end = this.begin(ctx);
    if (end >= 0) return end;
    if (this.broken) return sampling.sample(scores);
    const t = sampling.sample(scores);
    if (t >= 0 && this.allowed(ctx, t)) return t;
    const probs = sampling.probabilities(scores);
    if (t >= 0 && sampling.params.temperature > 0) {
      // Redraw without the rejected tokens, checking one token each time: rejection sampling
      // has the masked law exactly, and a few cheap checks usually spare the full mask.
      const w = Float64Array.from(probs);
      let left = 1 - w[t]!;
      w[t] = 0;
      for (let k = 0; k < MASK_REDRAWS && left > 1e-9; k++) {
        const r = drawIndex(w, left, sampling.rng.next());
        if (r < 0) break;
        if (this.allowed(ctx, r)) return r;
        left -= w[r]!;
        w[r] = 0;
      }
    }
    // Greedy or a truncation that dropped every allowed token falls back to the masked scores,
    // where an end token may still be the best allowed one: then its raw score decides.
    const fallback = !(sampling.params.temperature > 0);
    const mask = this.fullMask(ctx, (e) => (fallback ? 1 : probs[e]!));
    const w = new Float64Array(probs.length);
    let total = 0;
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i]!;
      if (p > 0 && maskHas(mask, i)) {
        w[i] = p;
        total += p;
      }
    }
    if (total > 0 && sampling.params.temperature > 0) return drawIndex(w, total, sampling.rng.next());
    for (let i = 0; i < scores.length; i++) if (!maskHas(mask, i)) scores[i] = -Infinity;
    return sampling.sample(scores); // −1: nothing allowed — a dead end
  }
}

export interface AlignedSelectorInit extends GrammarSelectorInit {
  /** The θ trie of this prompt (AsapStore.get(asapKey(…))), shared by every sample from it. */
  trie: AsapTrie;
  /**
   * Lazy expansion (default true): a prefix's mask and Z(u) are computed at its first rejection
   * instead of its first visit, so a first sample costs what `mask` costs. θ(u) stays 1 (still
   * an upper bound) until then; every prefix visited often enough is rejected at some point
   * unless Z(u) = 1, so the limit is the same. false: the paper's eager expansion.
   */
  lazy?: boolean;
}

/**
 * `aligned`: ASAp. At each prefix u draws t with Q̃(t|u) ∝ P(t|u)·θ(u·t) over allowed t, where
 * P is softmax(scores / T) without truncation (the law whose constrained version Q ∝ P·1[L] the
 * samples converge to); top-k/top-p, when set, truncate Q̃ itself. Each step proposes from P and
 * accepts with probability 1[allowed]·θ(u·t), computing the mask only on rejection (exact, see
 * §1's argument); a prefix's Z(u) is recorded at its first full mask (lazy) or first visit
 * (eager). At temperature 0 it is `mask` that never enters a child known to be dead (θ = 0).
 */
export class AlignedSelector extends GrammarSelectorBase {
  readonly name = 'grammar-aligned';
  private readonly trie: AsapTrie;
  private readonly lazy: boolean;
  private node: AsapNode;
  /** P(·|u) at the current node, for the child's edge probability on accept. */
  private lastP: Float64Array | null = null;

  constructor(init: AlignedSelectorInit) {
    super(init);
    this.trie = init.trie;
    this.lazy = init.lazy ?? true;
    this.node = this.trie.root;
  }

  select(ctx: SelectContext): number {
    const { sampling, scores } = ctx;
    this.lastP = null;
    const end = this.begin(ctx);
    if (end >= 0) return end;
    if (this.broken) return sampling.sample(scores);
    const params = sampling.params;
    if (!(params.temperature > 0)) return this.selectGreedy(ctx);
    const node = this.node;
    const P = softmax(scores, params.temperature);
    this.lastP = P;
    const truncating = (params.topP > 0 && params.topP < 1) || params.topK > 0;
    if (node.expanded) {
      this.trie.learnProbabilities(node, (t) => P[t]!);
      if (node.theta <= 0) return -1;
    }
    if (node.expanded || this.lazy) {
      // Propose, accept with probability 1[allowed]·θ(u·t); a rejection falls through to the
      // exact draw from P·1[allowed]·θ below. Without truncation the proposal is P itself and
      // the mixture is exactly Q̃(·|u) (the argument of §1); with top-k/top-p the proposal is the
      // sampler's truncated law, an approximation that keeps the sampler's quality controls.
      const t = truncating ? sampling.sample(scores) : drawIndex(P, 1, sampling.rng.next());
      if (t >= 0 && this.allowed(ctx, t)) {
        const th = node.childTheta(t);
        if (th >= 1 || sampling.rng.next() < th) return t;
      }
    }
    const mask = this.fullMask(ctx, (e) => P[e]!);
    const w = new Float64Array(P.length);
    let z = 0;
    let total = 0;
    for (let i = 0; i < P.length; i++) {
      const p = P[i]!;
      if (p > 0 && maskHas(mask, i)) {
        z += p;
        const wi = p * node.childTheta(i);
        w[i] = wi;
        total += wi;
      }
    }
    if (!node.expanded) {
      this.trie.expand(node, z, (t) => P[t]!);
      this.trie.update(node);
    }
    if (!(total > 0)) {
      // Allowed tokens may exist with P = 0 (underflow): fall back to the masked scores.
      if (z > 0) return -1;
      for (let i = 0; i < scores.length; i++) if (!maskHas(mask, i)) scores[i] = -Infinity;
      return sampling.sample(scores);
    }
    if (!truncating) return drawIndex(w, total, sampling.rng.next());
    const logw = new Float32Array(w.length).fill(-Infinity);
    for (let i = 0; i < w.length; i++) if (w[i]! > 0) logw[i] = Math.log(w[i]!);
    return sampleToken(logw, { temperature: 1, topP: params.topP, topK: params.topK }, sampling.rng);
  }

  private selectGreedy(ctx: SelectContext): number {
    const { scores } = ctx;
    const node = this.node;
    let best = -1;
    for (let i = 0; i < scores.length; i++) if (scores[i]! > (best < 0 ? -Infinity : scores[best]!)) best = i;
    if (best >= 0 && node.childTheta(best) > 0 && this.allowed(ctx, best)) return best;
    const mask = this.fullMask(ctx, () => 1);
    best = -1;
    for (let i = 0; i < scores.length; i++) {
      if (scores[i]! > (best < 0 ? -Infinity : scores[best]!) && maskHas(mask, i) && node.childTheta(i) > 0) best = i;
    }
    return best;
  }

  protected override committed(token: number): void {
    const p = this.lastP ? this.lastP[token]! : NaN;
    this.lastP = null;
    this.node = this.trie.descend(this.node, token, p);
    this.trie.update(this.node);
  }
}

/** softmax(scores / T) in float64 (−Infinity scores get 0). */
export function softmax(scores: Float32Array, temperature: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  const out = new Float64Array(scores.length);
  if (max === -Infinity || Number.isNaN(max)) return out;
  const inv = 1 / temperature;
  let total = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s > -Infinity) {
      const x = Math.exp((s - max) * inv);
      out[i] = x;
      total += x;
    }
  }
  for (let i = 0; i < out.length; i++) out[i]! /= total;
  return out;
}
