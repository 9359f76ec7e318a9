// GeDi steering at decode time (owns: the class posterior over a window, the weighting of the
// scores, the filtering heuristic, and the discriminator's per-candidate KV caches).
// algorithms.md §5 / Krause et al. 2020. For each active attribute the class-conditional LM runs
// on [c+, x] and [c−, x]; all active attributes' rows go through ONE batched forward per step.
//
//   S_c  = Σ log P_cc(x_j | c, x_<j) over the last n ≤ W−1 generated tokens
//   s_c(v) = α·(S_c + log P_cc(v | c, x)) / (n + 1)  (+ b on c+)
//   P(c+ | x, v) = σ(s_c+(v) − s_c−(v))
//   log w(v) = log P_LM(v | x) + |ω|·log P(c* | x, v),   c* = c+ if ω > 0, c− if ω < 0
//
// A negative ω steers to c− with the same bounded form (weight |ω| on P(c−) = 1 − P(c+)).
// Several attributes add their weighted log posteriors. Filtering keeps the top-ρ mass of the
// steered distribution plus every token whose joint on-class posterior exceeds τ; the rest get a
// large finite penalty rather than −∞, so a grammar mask applied afterwards can never be left
// with nothing to choose (the order of the pipeline is: GeDi, then the grammar selector).
// Cost: one CC-LM forward of 2·A rows × 1 token per generated token, started in accept() so it
// overlaps the base model's own forward pass.
import type { KvCache, LanguageModel, LogitsProcessor, StepContext } from '../interfaces';

/** Penalty for tokens the filtering heuristic drops (finite: see the module comment). */
export const FILTERED_PENALTY = -1e4;

/** An attribute being steered in one request. */
export interface ActiveAttribute {
  name: string;
  /** ω ≠ 0. */
  weight: number;
  positiveId: number;
  negativeId: number;
  alpha: number;
  classBias: number;
}

export interface GediSettings {
  window: number;
  rho: number;
  tau: number;
  /** Prompt tokens (before the cursor) fed after the control code. */
  contextTokens: number;
}

/** log σ(x), stable for large |x|. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/** In-place log-softmax of `logits` (the first `n` entries) into a new array. */
export function logSoftmax(logits: Float32Array, n = logits.length): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[i]! - lse;
  return out;
}

/** What the posterior needs from one attribute at one step. */
export interface AttributeStep {
  attr: ActiveAttribute;
  /** Σ over the window of (log P(x_j|c+) − log P(x_j|c−)). */
  deltaS: number;
  /** Tokens in that window (n). */
  n: number;
  /** log P_cc(v | c+, x) and log P_cc(v | c−, x) over the vocabulary. */
  lpPos: Float32Array;
  lpNeg: Float32Array;
}

/** The c+ logit s_c+(v) − s_c−(v) of one candidate token v. */
export function classLogit(s: AttributeStep, v: number): number {
  return (s.attr.alpha * (s.deltaS + s.lpPos[v]! - s.lpNeg[v]!)) / (s.n + 1) + s.attr.classBias;
}

/**
 * Adds the GeDi weights to `scores` (log-weights over the base vocabulary) in place and applies
 * the filtering heuristic. Tokens at −∞ stay there; ids past the discriminator's vocabulary are
 * left alone (the base model's padding, banned anyway). Returns the number of filtered tokens.
 */
export function applyGedi(scores: Float32Array, steps: readonly AttributeStep[], rho: number, tau: number, neutral?: Uint8Array): number {
  if (steps.length === 0) return 0;
  const V = Math.min(scores.length, ...steps.map((s) => s.lpPos.length));
  // Tokens the discriminator cannot judge (special tokens: end of completion, FIM markers) keep
  // the posterior of the text so far, so that steering neither favours nor blocks ending.
  const prior = steps.map((s) => (s.n > 0 ? (s.attr.alpha * s.deltaS) / s.n : 0) + s.attr.classBias);
  // Joint on-class log posterior (for τ), and the steered scores.
  const onClass = new Float32Array(V);
  for (let v = 0; v < V; v++) {
    if (scores[v] === -Infinity) continue;
    let add = 0;
    let joint = 0;
    const isNeutral = neutral !== undefined && neutral[v] === 1;
    for (let a = 0; a < steps.length; a++) {
      const s = steps[a]!;
      const z = isNeutral ? prior[a]! : classLogit(s, v);
      const lp = s.attr.weight > 0 ? logSigmoid(z) : logSigmoid(-z);
      add += Math.abs(s.attr.weight) * lp;
      joint += lp;
    }
    scores[v] = scores[v]! + add;
    onClass[v] = joint;
  }
  if (!(rho < 1) && !(tau < 1)) return 0;
  // Top-ρ mass of the steered distribution (T = 1), highest first.
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (scores[v]! > max) max = scores[v]!;
  if (max === -Infinity) return 0;
  let total = 0;
  const w = new Float64Array(V);
  for (let v = 0; v < V; v++) {
    if (scores[v] === -Infinity) continue;
    w[v] = Math.exp(scores[v]! - max);
    total += w[v]!;
  }
  // Sort only the head: lower a threshold until the tokens above it hold the ρ mass (exact).
  let head: number[] = [];
  for (let threshold = 0.25; ; threshold /= 16) {
    head = [];
    let mass = 0;
    for (let v = 0; v < V; v++) {
      if (w[v]! >= threshold && w[v]! > 0) {
        head.push(v);
        mass += w[v]!;
      }
    }
    if (mass >= rho * total || threshold < 1e-300) break;
  }
  head.sort((a, b) => w[b]! - w[a]! || a - b);
  const keep = new Uint8Array(V);
  let mass = 0;
  for (const v of head) {
    if (mass >= rho * total) break;
    keep[v] = 1;
    mass += w[v]!;
  }
  const logTau = Math.log(tau);
  let filtered = 0;
  for (let v = 0; v < V; v++) {
    if (scores[v] === -Infinity || keep[v] || onClass[v]! > logTau) continue;
    scores[v] = scores[v]! + FILTERED_PENALTY;
    filtered++;
  }
  return filtered;
}

/** The discriminator state after the prompt, shared by a request's candidates (they fork it). */
export interface GediPrefill {
  /** Row 2i: attribute i with c+; row 2i+1: with c−. */
  caches: KvCache[];
  /** Log-probabilities of the next token per row. */
  logProbs: Float32Array[];
  /** Control code of each row. */
  codes: number[];
  /** Prompt tokens fed after each control code. */
  contextIds: number[];
}

/** Runs [code, ...contextIds] for every row of every active attribute, in one batch. */
export async function prefillGedi(lm: LanguageModel, attrs: readonly ActiveAttribute[], contextIds: readonly number[]): Promise<GediPrefill> {
  const maxCtx = Math.max(0, lm.contextLength - 2);
  const ctx = contextIds.slice(Math.max(0, contextIds.length - maxCtx));
  const codes = attrs.flatMap((a) => [a.positiveId, a.negativeId]);
  const caches = codes.map(() => lm.newCache());
  const logits = await lm.forward(codes.map((c, r) => ({ ids: [c, ...ctx], cache: caches[r]! })));
  return { caches, logProbs: logits.map((l) => logSoftmax(l)), codes, contextIds: ctx };
}

/**
 * The GeDi logits processor of one candidate. `accept()` starts the discriminator's forward for
 * the chosen token without waiting for it; `process()` waits for it, so the two models' passes
 * overlap. Forced (healing) tokens arrive through accept() like sampled ones.
 */
export class GediProcessor implements LogitsProcessor {
  readonly name = 'gedi';
  /** Tokens the filtering heuristic penalised, summed over steps (diagnostics). */
  filteredTokens = 0;
  /** Discriminator forward passes run. */
  forwardCalls = 0;
  private readonly caches: KvCache[];
  private logProbs: Float32Array[];
  /** Per row: log P_cc of each generated token (the window reads the tail). */
  private readonly history: number[][];
  private readonly fed: number[] = [];
  private pending: number[] = [];
  private inflight: Promise<void> | null = null;
  private error: unknown = null;
  private disposed = false;

  constructor(
    private readonly lm: LanguageModel,
    private readonly attrs: readonly ActiveAttribute[],
    private readonly settings: GediSettings,
    private readonly prefill: GediPrefill,
    /** 1 for token ids the discriminator does not judge (special tokens). */
    private readonly neutral?: Uint8Array,
  ) {
    this.caches = prefill.caches.map((c) => c.fork());
    this.logProbs = prefill.logProbs.slice();
    this.history = prefill.codes.map(() => []);
  }

  async process(_ctx: StepContext, scores: Float32Array): Promise<void> {
    await this.settle();
    const W = this.settings.window;
    const steps: AttributeStep[] = this.attrs.map((attr, i) => {
      const hp = this.history[2 * i]!;
      const hn = this.history[2 * i + 1]!;
      const n = Math.min(W - 1, hp.length);
      let deltaS = 0;
      for (let j = hp.length - n; j < hp.length; j++) deltaS += hp[j]! - hn[j]!;
      return { attr, deltaS, n, lpPos: this.logProbs[2 * i]!, lpNeg: this.logProbs[2 * i + 1]! };
    });
    this.filteredTokens += applyGedi(scores, steps, this.settings.rho, this.settings.tau, this.neutral);
  }

  accept(token: number): void {
    if (this.disposed) return;
    this.pending.push(token);
    if (!this.inflight) {
      this.inflight = this.drain().catch((e: unknown) => {
        this.error = e;
      }).finally(() => {
        this.inflight = null;
      });
    }
  }

  /** The posterior P(c+ | generated tokens) of each attribute over the current window (diagnostics). */
  async posteriors(): Promise<Record<string, number>> {
    await this.settle();
    const out: Record<string, number> = {};
    const W = this.settings.window;
    this.attrs.forEach((a, i) => {
      const hp = this.history[2 * i]!;
      const hn = this.history[2 * i + 1]!;
      const n = Math.min(W, hp.length);
      let d = 0;
      for (let j = hp.length - n; j < hp.length; j++) d += hp[j]! - hn[j]!;
      out[a.name] = 1 / (1 + Math.exp(-((a.alpha * d) / Math.max(1, n) + a.classBias)));
    });
    return out;
  }

  dispose(): void {
    this.disposed = true;
    this.pending = [];
    for (const c of this.caches) c.dispose();
  }

  private async settle(): Promise<void> {
    while (this.inflight) await this.inflight;
    if (this.error) throw this.error;
    if (this.pending.length) await this.drain();
  }

  private async drain(): Promise<void> {
    while (this.pending.length && !this.disposed) {
      const ids = this.pending;
      this.pending = [];
      await this.feed(ids);
    }
  }

  /** Appends tokens to every row: records their log-probabilities, advances the caches. */
  private async feed(ids: number[]): Promise<void> {
    const rows = this.caches.length;
    for (let r = 0; r < rows; r++) this.history[r]!.push(this.logProbs[r]![ids[0]!] ?? -Infinity);
    const overflow = this.caches[0]!.length + ids.length > this.lm.contextLength;
    let feeds: number[][];
    let skip = 0; // leading positions of each row that are context, not `ids`
    if (overflow) {
      // Past the discriminator's context: restart the rows on the most recent tokens.
      const keep = Math.max(ids.length, Math.min(this.lm.contextLength - 1, this.settings.contextTokens + this.settings.window));
      const all = [...this.prefill.contextIds, ...this.fed, ...ids].slice(-keep);
      skip = 1 + all.length - ids.length;
      for (const c of this.caches) c.truncate(0);
      feeds = this.prefill.codes.map((code) => [code, ...all]);
    } else {
      feeds = this.caches.map(() => ids);
    }
    const many = ids.length > 1;
    const out = await this.lm.forward(feeds.map((f, r) => ({ ids: f, cache: this.caches[r]! })), { allPositions: many || overflow });
    this.forwardCalls++;
    if (this.disposed) return;
    const V = this.lm.vocabSize;
    const next: Float32Array[] = [];
    for (let r = 0; r < rows; r++) {
      const o = out[r]!;
      const positions = o.length / V;
      if (many || overflow) {
        // Position skip−1+j predicts ids[j] (j ≥ 1 recorded here; ids[0] came from the old logits).
        for (let j = 1; j < ids.length; j++) {
          const p = skip - 1 + j;
          const lp = logSoftmax(o.subarray(p * V, (p + 1) * V));
          this.history[r]!.push(lp[ids[j]!]!);
        }
        next.push(logSoftmax(o.subarray((positions - 1) * V, positions * V)));
      } else {
        next.push(logSoftmax(o));
      }
    }
    this.logProbs = next;
    this.fed.push(...ids);
  }
}
