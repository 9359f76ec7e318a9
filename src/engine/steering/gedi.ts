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
// with nothing to choose (the order of the pipeline is: GeDi, then the grammar selector). The
// paper ranks the ρ mass by on-class posterior instead; measured with the default models (official
// eval-steering command) that order steered no better (documented +60 / typed +41 pp vs +57 / +41)
// and cost quality (two attributes: −2.20 vs −1.59 nats per token), so the steered order stays.
// Cost: one CC-LM forward of 2·A rows × 1 token per generated token, started in accept(); the
// discriminator runs on its own thread (runtime/threadModel.ts), so it overlaps the base model's
// own forward pass (onnxruntime-node's run() blocks the thread that calls it).
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
  /** Steer only within the base model's top-p nucleus (1 or absent: the whole vocabulary). */
  baseTopP?: number;
  /** Prompt tokens (before the cursor) fed after the control code. */
  contextTokens: number;
}

/** log σ(x), stable for large |x|. */
export function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

// e^x for x ≤ 0 on tables (the processor takes ~6·V exponentials per step for normalisers and
// the ρ mass; Math.exp is most of their cost): e^x = 2^−k · 2^−f, 2^−f interpolated linearly on a
// 1/1024 grid, relative error ≤ 6e-8 — far below what a normaliser or a top-ρ mass needs.
const EXP_FRAC_STEPS = 1024;
const EXP_NEG_FRAC = Float64Array.from({ length: EXP_FRAC_STEPS + 1 }, (_, j) => Math.pow(2, -j / EXP_FRAC_STEPS));
const EXP_NEG_INT = Float64Array.from({ length: 1076 }, (_, k) => Math.pow(2, -k));

/** e^x for x ≤ 0 (relative error ≤ 6e-8 down to −700; subnormal below, 0 below −745). */
export function fastExpNeg(x: number): number {
  const y = -x * Math.LOG2E;
  if (!(y < 1075)) return y >= 1075 ? 0 : Math.exp(x);
  if (y <= 0) return Math.exp(x);
  const k = y | 0;
  const t = (y - k) * EXP_FRAC_STEPS;
  const j = t | 0;
  const a = EXP_NEG_FRAC[j]!;
  return EXP_NEG_INT[k]! * (a + (t - j) * (EXP_NEG_FRAC[j + 1]! - a));
}

/** log Σ exp(logits[i]) over the first `n` entries (the log-normaliser of a softmax). */
export function logSumExp(logits: Float32Array, n = logits.length): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  if (max === -Infinity || max === Infinity || Number.isNaN(max)) return max;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += fastExpNeg(logits[i]! - max);
  return max + Math.log(sum);
}

// log σ on a table: applyGedi evaluates it A·V times per step (exp + log1p each, the bulk of the
// processor's own time). Linear interpolation on a 1/256 grid over [−32, 32]: |error| ≤ h²/32
// ≈ 5e-7 nats (log σ'' ≤ 1/4), i.e. ≤ 5e-6 nats on a score at ω = 10; outside the grid the
// asymptotes (log σ(z) = z below −32, −e^−z above 32) are exact to double precision.
const LS_STEPS = 256;
const LS_MAX = 32;
const LS_TABLE = (() => {
  const t = new Float64Array(2 * LS_MAX * LS_STEPS + 2);
  for (let i = 0; i < t.length; i++) t[i] = logSigmoid(-LS_MAX + i / LS_STEPS);
  return t;
})();

/** log σ(z) from the table (see above); exact asymptotes outside [−32, 32]. */
export function fastLogSigmoid(z: number): number {
  if (!(z > -LS_MAX)) return z;
  if (z >= LS_MAX) return -Math.exp(-z);
  const x = (z + LS_MAX) * LS_STEPS;
  const i = x | 0;
  const a = LS_TABLE[i]!;
  return a + (x - i) * (LS_TABLE[i + 1]! - a);
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
  /**
   * log P_cc(v | c+, x) and log P_cc(v | c−, x) over the vocabulary, up to the normalisers
   * below: log P = lpPos[v] − lsePos (raw logits with their log-sum-exp, or log-probabilities
   * with 0; the processor passes the logits as they come, which saves a pass and an array).
   */
  lpPos: Float32Array;
  lpNeg: Float32Array;
  lsePos?: number;
  lseNeg?: number;
}

/** The c+ logit s_c+(v) − s_c−(v) of one candidate token v. */
export function classLogit(s: AttributeStep, v: number): number {
  return (s.attr.alpha * (s.deltaS + s.lpPos[v]! - (s.lsePos ?? 0) - s.lpNeg[v]! + (s.lseNeg ?? 0))) / (s.n + 1) + s.attr.classBias;
}

/** Scratch buffers reused across steps (one decode runs at a time per thread; no await inside). */
let scratchOn = new Float32Array(0);
let scratchW = new Float64Array(0);
let scratchKeep = new Uint8Array(0);

/**
 * Adds the GeDi weights to `scores` (log-weights over the base vocabulary) in place and applies
 * the filtering heuristic. Tokens at −∞ stay there; ids past the discriminator's vocabulary are
 * left alone (the base model's padding, banned anyway). Returns the number of filtered tokens.
 */
export function applyGedi(scores: Float32Array, steps: readonly AttributeStep[], rho: number, tau: number, neutral?: Uint8Array, baseTopP = 1): number {
  if (steps.length === 0) return 0;
  const V = Math.min(scores.length, ...steps.map((s) => s.lpPos.length));
  // Base nucleus first: the tokens outside it are penalised and not steered (−∞ marks them for
  // the passes below; the penalty is restored at the end).
  let outside: number[] | null = null;
  if (baseTopP < 1) {
    const inBase = topMass(scores, V, baseTopP);
    outside = [];
    for (let v = 0; v < V; v++) {
      if (inBase[v] || scores[v] === -Infinity) continue;
      outside.push(v, scores[v]!);
      scores[v] = -Infinity;
    }
  }
  const filtered = steerAndFilter(scores, steps, V, rho, tau, neutral);
  if (outside === null) return filtered;
  for (let i = 0; i < outside.length; i += 2) scores[outside[i]!] = outside[i + 1]! + FILTERED_PENALTY;
  return filtered + outside.length / 2;
}

/** 1 for the smallest set of tokens holding `mass` of softmax(scores[0..V)) (ties by id), else 0. */
function topMass(scores: Float32Array, V: number, mass: number): Uint8Array {
  if (scratchW.length < V) {
    scratchOn = new Float32Array(V);
    scratchW = new Float64Array(V);
    scratchKeep = new Uint8Array(V);
  }
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (scores[v]! > max) max = scores[v]!;
  const wt = scratchW;
  let total = 0;
  for (let v = 0; v < V; v++) {
    const sc = scores[v]!;
    const x = max === -Infinity || sc === -Infinity || sc < max - 700 ? 0 : fastExpNeg(sc - max);
    wt[v] = x;
    total += x;
  }
  let head: number[] = [];
  for (let threshold = 0.25; ; threshold /= 16) {
    head = [];
    let m = 0;
    for (let v = 0; v < V; v++) {
      if (wt[v]! >= threshold && wt[v]! > 0) {
        head.push(v);
        m += wt[v]!;
      }
    }
    if (m >= mass * total || threshold < 1e-300) break;
  }
  head.sort((a, b) => wt[b]! - wt[a]! || a - b);
  const keep = scratchKeep;
  keep.fill(0, 0, V);
  let m = 0;
  for (const v of head) {
    if (m >= mass * total) break;
    keep[v] = 1;
    m += wt[v]!;
  }
  return keep;
}

function steerAndFilter(scores: Float32Array, steps: readonly AttributeStep[], V: number, rho: number, tau: number, neutral?: Uint8Array): number {
  const A = steps.length;
  // z_a(v) = k_a·(lpPos_a[v] − lpNeg_a[v]) + c_a, sign-flipped for ω < 0 so that one log σ gives
  // the weighted class: log w(v) += |ω_a|·log σ(±z_a(v)).
  const k = new Float64Array(A);
  const c = new Float64Array(A);
  const w = new Float64Array(A);
  // Tokens the discriminator cannot judge (special tokens: end of completion, FIM markers) keep
  // the posterior of the text so far, so that steering neither favours nor blocks ending.
  const priorAdd = { add: 0, joint: 0 };
  for (let a = 0; a < A; a++) {
    const s = steps[a]!;
    const sign = s.attr.weight > 0 ? 1 : -1;
    k[a] = (sign * s.attr.alpha) / (s.n + 1);
    c[a] = sign * ((s.attr.alpha * (s.deltaS - (s.lsePos ?? 0) + (s.lseNeg ?? 0))) / (s.n + 1) + s.attr.classBias);
    w[a] = Math.abs(s.attr.weight);
    const prior = sign * ((s.n > 0 ? (s.attr.alpha * s.deltaS) / s.n : 0) + s.attr.classBias);
    const lp = prior >= 0 ? -Math.log1p(Math.exp(-prior)) : prior - Math.log1p(Math.exp(prior));
    priorAdd.add += w[a]! * lp;
    priorAdd.joint += lp;
  }
  const filter = rho < 1 || tau < 1;
  if (filter && scratchOn.length < V) {
    scratchOn = new Float32Array(V);
    scratchW = new Float64Array(V);
    scratchKeep = new Uint8Array(V);
  }
  // Joint on-class log posterior (for τ), and the steered scores.
  const onClass = scratchOn;
  if (A === 1) {
    const P = steps[0]!.lpPos;
    const N = steps[0]!.lpNeg;
    const k0 = k[0]!;
    const c0 = c[0]!;
    const w0 = w[0]!;
    for (let v = 0; v < V; v++) {
      const sc = scores[v]!;
      if (sc === -Infinity) continue;
      const z = k0 * (P[v]! - N[v]!) + c0;
      const lp = fastLogSigmoid(z);
      scores[v] = sc + w0 * lp;
      onClass[v] = lp;
    }
  } else {
    for (let v = 0; v < V; v++) {
      const sc = scores[v]!;
      if (sc === -Infinity) continue;
      let add = 0;
      let joint = 0;
      for (let a = 0; a < A; a++) {
        const s = steps[a]!;
        const z = k[a]! * (s.lpPos[v]! - s.lpNeg[v]!) + c[a]!;
        const lp = fastLogSigmoid(z);
        add += w[a]! * lp;
        joint += lp;
      }
      scores[v] = sc + add;
      onClass[v] = joint;
    }
  }
  if (neutral !== undefined) {
    // Undo the per-token term of special tokens, apply the prior's (few tokens: a second pass).
    for (let v = 0; v < V; v++) {
      if (neutral[v] !== 1 || scores[v] === -Infinity) continue;
      let add = 0;
      for (let a = 0; a < A; a++) {
        const s = steps[a]!;
        const z = k[a]! * (s.lpPos[v]! - s.lpNeg[v]!) + c[a]!;
        add += w[a]! * fastLogSigmoid(z);
      }
      scores[v] = scores[v]! - add + priorAdd.add;
      onClass[v] = priorAdd.joint;
    }
  }
  if (!filter) return 0;
  // Top-ρ mass of the steered distribution (T = 1), highest first.
  const keep = topMass(scores, V, rho);
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
  /** Next-token logits per row (raw; log P = logits − lse). */
  logits: Float32Array[];
  /** Log-sum-exp of each row's logits. */
  lse: number[];
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
  return { caches, logits, lse: logits.map((l) => logSumExp(l)), codes, contextIds: ctx };
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
  private logits: Float32Array[];
  private lse: number[];
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
    this.logits = prefill.logits.slice();
    this.lse = prefill.lse.slice();
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
      return { attr, deltaS, n, lpPos: this.logits[2 * i]!, lpNeg: this.logits[2 * i + 1]!, lsePos: this.lse[2 * i]!, lseNeg: this.lse[2 * i + 1]! };
    });
    this.filteredTokens += applyGedi(scores, steps, this.settings.rho, this.settings.tau, this.neutral, this.settings.baseTopP ?? 1);
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
    for (let r = 0; r < rows; r++) this.history[r]!.push((this.logits[r]![ids[0]!] ?? -Infinity) - this.lse[r]!);
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
    const lse: number[] = [];
    for (let r = 0; r < rows; r++) {
      const o = out[r]!;
      const positions = o.length / V;
      if (many || overflow) {
        // Position skip−1+j predicts ids[j] (j ≥ 1 recorded here; ids[0] came from the old logits).
        for (let j = 1; j < ids.length; j++) {
          const p = skip - 1 + j;
          const row = o.subarray(p * V, (p + 1) * V);
          this.history[r]!.push(row[ids[j]!]! - logSumExp(row));
        }
        const last = o.subarray((positions - 1) * V, positions * V);
        next.push(last);
        lse.push(logSumExp(last));
      } else {
        next.push(o);
        lse.push(logSumExp(o));
      }
    }
    this.logits = next;
    this.lse = lse;
    this.fed.push(...ids);
  }
}
