// The grammar modes as token selectors (hooks.ts TokenSelector): `mask` — constrained decoding
// with opportunistic checking (algorithms.md §1) — and `aligned` — ASAp (§2) over the θ trie of
// asap-trie.ts. Both end only where the suffix check of grammar-suffix.ts passes (§3), stop with a
// dead end (−1 → stopReason 'grammar') when nothing is allowed. A completion that max tokens or
// a loop guard stops where it may not end gets grace tokens (decoding on, comments banned, ending
// at the first allowed point or where closing what is open makes it allowed); failing that it is
// trimmed back, closed at a recent boundary, or replaced by a probe stand-in (stats.endRepair).
import type { StopReason } from '../api';
import type { Matcher, MatcherSnapshot, TokenizerLike } from '../interfaces';
import type { AsapNode, AsapTrie } from './asap-trie';
import type { EndRepair, SelectContext, SelectorStats, TokenSelector } from './hooks';
import { sampleToken } from './sampler';
import { utf8DecodeOnce } from '../text';
import { bracketDemand, bracketDistance, closerOf, scanLex, suffixAccepted, type LexState, type SuffixPlan } from './grammar-suffix';

/** Draws `mask` tries after a rejection (each one `allows` check) before computing the full mask. */
const MASK_REDRAWS = 6;

const utf8 = new TextDecoder();

/** Bytes a punctuation stand-in may contain (grammar-suffix.ts probe middles). */
const PUNCTUATION = new Set(Array.from(new TextEncoder().encode(' ()[]{}:,\'"')));

/** Token boundaries (latest first) where trimEnd tries to close what is open. */
const CLOSE_TRIES = 8;
/**
 * deriveEnd: the latest boundaries searched from (then the first), lexemes appended at most, and
 * the budgets of each search: example texts appended (each a matcher pass over a few bytes and
 * the examples of the state reached) and suffix checks.
 */
const DERIVE_TRIES = 4;
const DERIVE_DEPTH = 4;
const DERIVE_APPENDS = 8_000;
const DERIVE_CHECKS = 1_000;

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
  /** Lexical state at the end of the prefix (scanLex), for closing what a cut completion left open. */
  closerState?: LexState;
  /**
   * End at the first line break after a line with content where the completion may end (the
   * model does not see the code after the cursor, so it would write on into the next lines).
   */
  endAtLineBreak?: boolean;
  /**
   * Grace tokens: when max tokens (or a loop guard) stops a completion at a point where it may
   * not end, the loop decodes up to this many more tokens, ending at the first point where the
   * suffix check passes (graceTokens). Default: maxTokens / 2, within [8, 64]; 0 disables.
   */
  graceTokens?: number;
}

/** Grace tokens by default: half the token budget, within [8, 64]. */
export function defaultGraceTokens(maxTokens: number): number {
  return Math.min(64, Math.max(8, Math.ceil(maxTokens / 2)));
}

const commentTokenCache = new WeakMap<TokenizerLike, Int32Array>();

/** Token ids whose bytes contain `#` (they may start a comment; computed once per tokenizer). */
function commentTokens(tok: TokenizerLike): Int32Array {
  let ids = commentTokenCache.get(tok);
  if (!ids) {
    const out: number[] = [];
    for (let t = 0; t < tok.vocabSize; t++) if (!tok.isSpecial(t) && tok.tokenBytes(t).includes(0x23)) out.push(t);
    commentTokenCache.set(tok, (ids = Int32Array.from(out)));
  }
  return ids;
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
  private readonly endAtLineBreak: boolean;
  /** For endAtLineBreak: 0 no content on this line yet, 1 content, 2 a line with content ended (blank since). */
  private lineState = 0;
  private readonly closerState: LexState | null;
  private readonly graceOption: number | undefined;
  /** Decoding past max tokens (or after a loop guard), looking for an allowed end. */
  protected inGrace = false;
  /** A grace step found that appending `append` at `bytes` makes the completion end. */
  private graceClose: { bytes: number; append: Uint8Array } | null = null;

  constructor(init: GrammarSelectorInit) {
    this.matcher = init.matcher;
    this.plan = init.plan;
    this.tokenizer = init.tokenizer;
    this.maxTrimChecks = init.maxTrimChecks ?? 64;
    this.endPressureAt = init.endPressureAt ?? 1;
    this.endAtLineBreak = init.endAtLineBreak ?? false;
    this.closerState = init.closerState ?? null;
    this.graceOption = init.graceTokens;
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
    if (this.broken) return -1;
    const lineEnd = this.endAtLineBreak && this.lineState === 2;
    if (!lineEnd && (this.endPressureAt >= 1 || ctx.step < Math.floor(max * this.endPressureAt))) return -1;
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
    return this.acceptedHere();
  }

  /** The suffix check at the current state, memoised per committed token. */
  private acceptedHere(): boolean {
    this.settle();
    if (this.endMemo.step !== this.history.length) {
      this.endMemo = { step: this.history.length, ok: suffixAccepted(this.matcher, this.plan) };
    }
    return this.endMemo.ok;
  }

  /**
   * The loop stopped the completion (max tokens, or a loop guard keeping the first `atTokens`
   * tokens) where it may not end: how many more tokens to decode from there, ending at the
   * first point where the suffix check passes (0: none — the grammar broke, there is no check,
   * the point is already an allowed end, or grace was used). Enters grace mode when > 0: the
   * loop then rolls back to `atTokens` (rollback) and keeps calling select().
   */
  graceTokens(reason: StopReason, maxTokens: number, atTokens: number): number {
    this.settle();
    if (this.inGrace || this.broken || this.plan.check === 'none') return 0;
    if (reason !== 'max_tokens' && reason !== 'loop') return 0;
    const n = this.graceOption ?? defaultGraceTokens(maxTokens);
    if (!(n > 0) || atTokens < 0 || atTokens >= this.history.length) return 0;
    if (this.forcedBytes < 0) this.forcedBytes = this.bytes; // stopped before any select: all forced
    const h = this.history[atTokens]!;
    if (h.bytes < Math.max(0, this.forcedBytes)) return 0;
    if (atTokens === this.history.length - 1) {
      if (this.acceptedHere()) return 0;
    } else {
      const current = this.matcher.snapshot();
      this.matcher.restore(h.snap);
      const ok = suffixAccepted(this.matcher, this.plan);
      this.matcher.restore(current);
      if (ok) return 0;
    }
    this.inGrace = true;
    return n;
  }

  /** Forgets the tokens after the first `n` (the loop rolled the completion back for grace). */
  rollback(n: number): void {
    this.settle();
    if (n >= this.tokens.length) return;
    this.history.length = n + 1;
    this.tokens.length = n;
    this.bytes = this.history[n]!.bytes;
    this.matcher.restore(this.history[n]!.snap);
    this.endMemo = { step: -1, ok: false };
    this.rolledBack(n);
  }

  protected rolledBack(_n: number): void {}

  /**
   * One grace step: end here if the suffix check passes, or if closing what is open (string
   * delimiter, brackets, a block colon or separator) makes it pass; else draw like `mask` with
   * the tokens that could start a comment banned outside strings (comments are always legal
   * and never bring an end closer, and small models drift into them).
   */
  protected graceSelect(ctx: SelectContext): number {
    this.settle();
    let end = -1;
    for (const e of ctx.endTokens) if (end < 0) end = e;
    if (end < 0) return this.maskSelect(ctx);
    if (this.acceptedHere()) return end;
    let inString = false;
    if (this.closerState) {
      const closer = this.closerAt(ctx.generatedBytes);
      inString = closer.startsWith('"') || closer.startsWith("'");
      const appendix = [...(closer ? closerVariants(closer) : []), ...(atLineStart(ctx.generatedBytes) ? [] : this.punctuationStandIns())];
      const snap = this.matcher.snapshot();
      try {
        for (const c of appendix) {
          this.matcher.restore(snap);
          if (this.matcher.consumeBytes(c) && suffixAccepted(this.matcher, this.plan)) {
            this.graceClose = { bytes: this.bytes, append: c };
            return end;
          }
        }
      } finally {
        this.matcher.restore(snap);
      }
    }
    if (!inString) for (const t of commentTokens(this.tokenizer)) ctx.scores[t] = -Infinity;
    return this.maskSelect(ctx);
  }

  /** What closes the completion `generated` lexically (lineCloser over the recent lines). */
  private closerAt(generated: Uint8Array): string {
    return closerOf(scanLex(utf8.decode(generated), this.closerState!));
  }

  /**
   * `mask`'s draw (GCD with opportunistic checking): from the sampler's (truncated)
   * distribution; a rejected token is removed and the draw repeated a few times (rejection
   * sampling), and only then is the full mask computed and the draw made from the same
   * distribution restricted to allowed tokens — at every stage the same law as masking first.
   * If the truncation left no allowed token (greedy, tight top-p), the masked scores are
   * sampled afresh.
   */
  protected maskSelect(ctx: SelectContext): number {
    const { sampling, scores } = ctx;
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

  /** Whether token `t` may come next (end tokens: where the suffix check passes). */
  protected allowed(ctx: SelectContext, t: number): boolean {
    if (ctx.endTokens.has(t)) return this.endOk(ctx);
    // Consumed tentatively (consume leaves the state unchanged when it fails): the drawn token is
    // almost always the one committed, and accept() then has nothing left to do — one pass over
    // its bytes instead of two (allows, then consume).
    this.settle();
    if (this.matcher.consume(t)) {
      this.pending = t;
      return true;
    }
    return false;
  }

  /** Token consumed by allowed() but not yet accepted (−1: none; the matcher is at history's end). */
  private pending = -1;

  /** Undoes a tentative consume: back to the state after the last committed token. */
  protected settle(): void {
    if (this.pending >= 0) {
      this.matcher.restore(this.history[this.history.length - 1]!.snap);
      this.pending = -1;
    }
  }

  /**
   * The full allowed set as a mask. End tokens are included when ending is allowed here; the
   * suffix check runs only if some end token has weight ≥ END_WEIGHT_FLOOR under the law being
   * sampled (`endWeight`), so steps where ending is out of the question cost no suffix pass.
   * Counts a masked step.
   */
  protected fullMask(ctx: SelectContext, endWeight: (token: number) => number): Uint32Array {
    this.maskedSteps++;
    this.settle();
    const mask = Uint32Array.from(this.matcher.computeMask());
    let endInPlay = false;
    for (const e of ctx.endTokens) if (e < ctx.scores.length && endWeight(e) >= END_WEIGHT_FLOOR) endInPlay = true;
    if (endInPlay && this.endOk(ctx)) for (const e of ctx.endTokens) mask[e >>> 5]! |= 1 << (e & 31);
    else for (const e of ctx.endTokens) mask[e >>> 5]! &= ~(1 << (e & 31));
    return mask;
  }

  accept(token: number): void {
    if (this.pending === token && !this.broken) {
      this.pending = -1;
    } else {
      this.settle();
      if (!this.broken && !this.matcher.consume(token)) this.broken = true;
    }
    const tb = this.tokenizer.tokenBytes(token);
    this.bytes += tb.length;
    if (this.endAtLineBreak && this.forcedBytes >= 0) {
      for (const b of tb) {
        if (b === 0x0a) { if (this.lineState === 1) this.lineState = 2; } else if (b !== 0x20 && b !== 0x09 && b !== 0x0d) this.lineState = 1;
      }
    }
    this.history.push({ snap: this.matcher.snapshot(), bytes: this.bytes });
    this.tokens.push(token);
    this.committed(token);
  }

  protected committed(_token: number): void {}

  stats(): SelectorStats {
    return { maskedSteps: this.maskedSteps, suffixCheck: this.broken ? 'none' : this.plan.check, endRepair: this.repair };
  }

  /** How trimEnd found the end of a cut completion ('none' until it runs). */
  private repair: EndRepair = 'none';

  /**
   * Decoding stopped without an end token (max tokens, loop guard, stop string), keeping
   * `keepBytes` bytes. Returns the longest length ≤ keepBytes where ending is allowed, trying
   * the cut itself and then token boundaries backwards (at most `maxTrimChecks` checks); else,
   * with `closerContext`, a boundary plus the closing delimiters that make the file parse; else
   * `keepBytes` unchanged (also when the grammar broke or there is no check).
   */
  trimEnd(reason: StopReason, keepBytes: number): number | { keepBytes: number; append: Uint8Array } {
    this.settle();
    const { end, how } = this.findEnd(reason, keepBytes);
    this.repair = how;
    return end;
  }

  /** trimEnd's search, and which way it found the end (SelectorStats.endRepair). */
  private findEnd(reason: StopReason, keepBytes: number): { end: number | { keepBytes: number; append: Uint8Array }; how: EndRepair } {
    const cut: EndRepair = this.inGrace ? 'grace' : 'cut';
    if (this.broken || this.plan.check === 'none' || reason === 'aborted' || reason === 'grammar') return { end: keepBytes, how: 'none' };
    if (this.graceClose && this.graceClose.bytes === this.bytes && keepBytes === this.bytes) return { end: { keepBytes, append: this.graceClose.append }, how: 'close' };
    if (keepBytes === this.bytes && this.acceptedHere()) return { end: keepBytes, how: cut };
    const current = this.matcher.snapshot();
    try {
      let checks = 0;
      // Last committed boundary at or before the cut.
      let i = this.history.length - 1;
      while (i > 0 && this.history[i]!.bytes > keepBytes) i--;
      const floor = Math.max(0, this.forcedBytes);
      if (keepBytes < floor) return { end: keepBytes, how: 'failed' };
      const h = this.history[i]!;
      if (h.bytes < keepBytes) {
        // The cut falls inside a token (stop string / loop guard): feed the partial bytes.
        const all = this.tokenBytesUpTo(keepBytes);
        this.matcher.restore(h.snap);
        checks++;
        if (this.matcher.consumeBytes(all.subarray(h.bytes, keepBytes)) && suffixAccepted(this.matcher, this.plan)) return { end: keepBytes, how: cut };
      }
      const top = i;
      for (; i >= 0 && this.history[i]!.bytes >= floor && checks < this.maxTrimChecks; i--, checks++) {
        this.matcher.restore(this.history[i]!.snap);
        if (suffixAccepted(this.matcher, this.plan)) return { end: this.history[i]!.bytes, how: this.history[i]!.bytes === keepBytes ? cut : 'trim' };
      }
      const closed = this.closeAt(top, floor);
      if (closed) return { end: closed, how: 'close' };
      const derived = this.deriveEnd(top, floor);
      if (derived) return { end: derived, how: 'derive' };
      const stand = this.standIn(floor);
      if (stand) return { end: stand, how: 'stand-in' };
      return { end: keepBytes, how: 'failed' };
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
    if (!this.closerState) return null;
    const enc = new TextEncoder();
    const all = this.tokenBytesUpTo(this.bytes);
    for (let i = top, tries = 0; i >= 0 && this.history[i]!.bytes >= floor && tries < CLOSE_TRIES; i--, tries++) {
      const h = this.history[i]!;
      const closer = this.closerAt(all.subarray(0, h.bytes));
      const punct = atLineStart(all.subarray(0, h.bytes)) ? [] : this.punctuationStandIns();
      for (const bytes of [...(closer ? closerVariants(closer, enc) : []), ...punct]) {
        this.matcher.restore(h.snap);
        if (this.matcher.consumeBytes(bytes) && suffixAccepted(this.matcher, this.plan)) return { keepBytes: h.bytes, append: bytes };
      }
    }
    return null;
  }

  /**
   * Closing what is open did not help: search the grammar for a short way to finish the text —
   * breadth-first over example texts of the lexemes the grammar allows next (`import`, `)`, a
   * name…; Matcher.nextLexemeExamples, which sees past a pending scanner run, so that a line
   * break leads on to `def`, `class`, a name…), up to DERIVE_DEPTH lexemes, keeping the first
   * text that the suffix check accepts. It finishes the model's text with what the grammar says
   * must come next — `x = f(a` → `)`, or a line break and a new header (`\nif match(`) where the
   * suffix goes on with the arguments of a block header. First from the latest DERIVE_TRIES token
   * boundaries together (the fewest lexemes, then the latest boundary), then from the first one
   * (the model's text dropped: a derived middle).
   *
   * Endings several lexemes away are within reach because texts that lead to the same situation
   * are explored once: a text after which the same lexemes may come (the same examples) with the
   * same brackets and string open (scanLex) as after one seen before, from any boundary and with
   * no fewer lexemes, is neither checked nor extended (`+`, `-` or `~` before an operand; `True`,
   * `0` or `None`). A text is not extended either when the brackets the suffix expects open
   * (bracketDemand) are more lexemes away than the depth left (bracketDistance). A lexeme is
   * tried with a leading space only where the space can matter: between two word characters
   * (`if` `x` is not `ifx`), or when it is not viable without. Budgets per search (latest
   * boundaries, first boundary): DERIVE_APPENDS texts appended, DERIVE_CHECKS suffix checks.
   */
  private deriveEnd(top: number, floor: number): { keepBytes: number; append: Uint8Array } | null {
    const matcher = this.matcher;
    if (!matcher.nextLexemeExamples) return null;
    const latest: number[] = [];
    for (let i = top; i >= 0 && this.history[i]!.bytes >= floor && latest.length < DERIVE_TRIES; i--) latest.push(i);
    const first = this.history.findIndex((h) => h.bytes >= floor);
    const all = this.tokenBytesUpTo(this.bytes);
    // Brackets an ending must still open or close: a lower bound on its lexemes (0: unknown).
    const demand = this.closerState ? (this.demand ??= bracketDemand(utf8.decode(this.plan.bytes), this.closerState)) : null;
    const exact = this.plan.check === 'full';
    const distance = (lex: LexState | null) => (demand && lex && lex.quote === null && !lex.comment ? bracketDistance(lex.stack, demand, exact) : 0);
    // Situations met (see above), with the fewest lexemes they were met after.
    const situations = new Map<string, number>();
    const situation = (lex: LexState | null, examples: Uint8Array[]) => {
      // inside a comment the same examples mean something else (they extend the comment)
      let key = lex ? `${lex.comment ? '#' : ''}${lex.escape ? '\\' : ''}${closerOf(lex)}` : '';
      for (const e of examples) key += `,${exampleId(e)}`;
      return key;
    };
    /** A situation not met before with `lexemes` or fewer: recorded, true. */
    const fresh = (key: string, lexemes: number) => {
      const seen = situations.get(key);
      if (seen !== undefined && seen <= lexemes) return false;
      situations.set(key, lexemes);
      return true;
    };
    type Node = { at: number; snap: MatcherSnapshot; text: string; examples: Uint8Array[]; lex: LexState | null; last: number };
    const search = (roots: number[]): { keepBytes: number; append: Uint8Array } | null => {
      let level: Node[] = [];
      for (const at of roots) {
        const h = this.history[at]!;
        matcher.restore(h.snap);
        const examples = matcher.nextLexemeExamples!();
        const lex = this.closerState ? scanLex(utf8.decode(all.subarray(0, h.bytes)), this.closerState) : null;
        if (distance(lex) > DERIVE_DEPTH || !fresh(situation(lex, examples), 0)) continue;
        // `last`: the byte before the boundary (−1: the prefix's, unknown).
        level.push({ at, snap: h.snap, text: '', examples, lex, last: h.bytes > 0 ? all[h.bytes - 1]! : -1 });
      }
      let appends = 0;
      let checks = 0;
      for (let depth = 0; depth < DERIVE_DEPTH && level.length > 0; depth++) {
        const next: Node[] = [];
        for (const node of level) {
          for (const ex of node.examples) {
            let viable = false;
            for (const lead of [false, true]) {
              if (lead && viable && !(isWordByte(node.last) && isWordByte(ex[0]!))) continue;
              if (++appends > DERIVE_APPENDS) return null;
              matcher.restore(node.snap);
              if ((lead && !matcher.consumeBytes(SPACE)) || !matcher.consumeBytes(ex)) continue;
              viable = true;
              const added = (lead ? ' ' : '') + utf8DecodeOnce(ex);
              const lex = node.lex ? scanLex(added, node.lex) : null;
              const examples = matcher.nextLexemeExamples!();
              if (!fresh(situation(lex, examples), depth + 1)) continue;
              if (++checks > DERIVE_CHECKS) return null;
              const text = node.text + added;
              if (suffixAccepted(matcher, this.plan)) return { keepBytes: this.history[node.at]!.bytes, append: new TextEncoder().encode(text) };
              if (depth + 1 + distance(lex) <= DERIVE_DEPTH) next.push({ at: node.at, snap: matcher.snapshot(), text, examples, lex, last: ex[ex.length - 1]! });
            }
          }
        }
        level = next;
      }
      return null;
    };
    return search(latest) ?? (first >= 0 && !latest.includes(first) ? search([first]) : null);
  }

  /**
   * The plan's stand-in middles made of closing/opening punctuation only (`):`, `]`, `', `):
   * tried after the lexical closer at the latest boundaries of a cut completion and at every
   * grace step — they finish the text the model wrote instead of replacing it.
   */
  private punctuationStandIns(): Uint8Array[] {
    return (this.punct ??= (this.plan.standIns ?? []).filter((b) => b.length > 0 && b.every((c) => PUNCTUATION.has(c))));
  }
  private punct?: Uint8Array[];
  /** The brackets the suffix expects open (bracketDemand), once per completion; null: unknown. */
  private demand?: string[] | null;

  /**
   * Last resort: the completion as far as the forced bytes, followed by one of the plan's
   * stand-in middles that the suffix check accepts there (they were probed on the original
   * text; here each is checked after the forced bytes).
   */
  private standIn(floor: number): { keepBytes: number; append: Uint8Array } | null {
    const i = this.history.findIndex((h) => h.bytes >= floor);
    if (i < 0 || this.history[i]!.bytes !== floor) return null;
    for (const s of this.plan.standIns ?? []) {
      this.matcher.restore(this.history[i]!.snap);
      if (this.matcher.consumeBytes(s) && suffixAccepted(this.matcher, this.plan)) return { keepBytes: floor, append: s };
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

/** `mask`: GCD with opportunistic checking (GrammarSelectorBase.maskSelect). */
export class MaskSelector extends GrammarSelectorBase {
  readonly name = 'grammar-mask';

  select(ctx: SelectContext): number {
    if (this.inGrace && !this.broken) return this.graceSelect(ctx);
    const end = this.begin(ctx);
    if (end >= 0) return end;
    if (this.broken) return ctx.sampling.sample(ctx.scores);
    return this.maskSelect(ctx);
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
    this.nodes = [this.node];
  }
  /** The trie node after each committed token (null for grace tokens). */
  private nodes: (AsapNode | null)[];

  select(ctx: SelectContext): number {
    const { sampling, scores } = ctx;
    this.lastP = null;
    // Past max tokens the law is no longer the model's: grace steps leave the θ trie alone.
    if (this.inGrace && !this.broken) return this.graceSelect(ctx);
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
    if (this.inGrace) {
      this.nodes.push(null);
      return;
    }
    const p = this.lastP ? this.lastP[token]! : NaN;
    this.lastP = null;
    this.node = this.trie.descend(this.node, token, p);
    this.trie.update(this.node);
    this.nodes.push(this.node);
  }

  protected override rolledBack(n: number): void {
    this.nodes.length = n + 1;
    this.node = this.nodes[n] ?? this.node;
  }
}

/**
 * Whether the completion ends at the start of a line (only blanks after its last line break).
 * Punctuation stand-ins are not appended there: `):` at a lower indentation than the block
 * would be a dedent where none may come, which the grammar engine does not reject yet.
 */
function atLineStart(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const b = bytes[i]!;
    if (b === 0x0a) return true;
    if (b !== 0x20 && b !== 0x09) return false;
  }
  return false;
}

const SPACE = Uint8Array.of(0x20);
const exampleIds = new WeakMap<Uint8Array, number>();

/**
 * A small id per example text (the grammar hands out the same arrays: keys stay short). Arrays
 * met for the first time get a new id, so equal texts in distinct arrays only dedupe less.
 */
function exampleId(e: Uint8Array): number {
  let id = exampleIds.get(e);
  if (id === undefined) exampleIds.set(e, (id = nextExampleId++));
  return id;
}
let nextExampleId = 0;

/** Letters, digits and `_`: a space between two of them separates lexemes (−1, unknown, counts as one). */
function isWordByte(b: number): boolean {
  return b < 0 || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b >= 0x80;
}

/** Appendices tried to close a completion: the lexical closer alone, then with a block colon or a separator. */
function closerVariants(closer: string, enc = new TextEncoder()): Uint8Array[] {
  return [closer, `${closer}:`, `${closer},`].map((c) => enc.encode(c));
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
