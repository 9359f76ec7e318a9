// The decode loop: from a prefilled prompt cache to a completion. One model call per generated
// token; the processor pipeline, the token selector, end/stop rules and the abort signal are
// applied between calls (hooks.ts lists the extension points and their order). A grammar
// selector may ask for grace tokens when max tokens or a loop guard stops a completion where the
// grammar does not let it end: the loop then decodes a bounded number of tokens more (after a
// loop guard, from the text the guard kept: cache and selector rolled back) until it may end.
import type { SamplingOptions, StopReason, SuffixCheck } from '../api';
import type { KvCache, LanguageModel, StepContext, TokenizerLike } from '../interfaces';
import type { DecodeHooks, EndRepair, Rng, SelectContext, StopCheck, TokenSelector } from './hooks';
import { samplingTools } from './sampler';
import { lineLoopGuard, repeatLoopGuard, stopStringCheck } from './stops';

export interface DecodeParams extends SamplingOptions {
  /** Loop guards (CompletionOptions); omit to disable. */
  maxBlankLines?: number;
  maxRepeatedLines?: number;
  maxRepeatsInLine?: number;
}

export interface DecodeInput {
  model: LanguageModel;
  tokenizer: TokenizerLike;
  /** The prompt's cache; the loop extends it in place (fork first to keep the prompt). */
  cache: KvCache;
  /** Logits after the last prompt token. */
  logits: Float32Array;
  params: DecodeParams;
  rng: Rng;
  /** Token ids that end the completion, with the reason each one reports. */
  endTokens: ReadonlyMap<number, StopReason>;
  /**
   * Token ids never generated (special tokens other than the end tokens, padded vocabulary);
   * applied before the processors.
   */
  banned?: readonly number[];
  /**
   * End tokens are banned until this many tokens beyond the forced ones were generated: an
   * infill that replaces a selection with nothing is never what the user asked for.
   */
  minNewTokens?: number;
  /**
   * Tokens the completion is forced to start with (healing). If `state` is given it is the cache
   * and logits after them, and `cache`/`logits` above are ignored.
   */
  forced?: {
    ids: readonly number[];
    state?: { cache: KvCache; logits: Float32Array };
    /**
     * Bytes of the completion that re-spell text before the cursor (healing's tail): never cut
     * by a stop rule, so an edit never deletes what the user typed.
     */
    minBytes?: number;
  };
  hooks?: DecodeHooks;
  signal?: AbortSignal;
  /** `performance.now()` at request start, for firstTokenMs. Default: when decode() starts. */
  startedAt?: number;
}

export interface DecodeOutput {
  /** Generated token ids (forced ones first; end token excluded). */
  tokens: number[];
  /** Completion bytes (may be shorter than the tokens' bytes when a stop rule cut it). */
  bytes: Uint8Array;
  stopReason: StopReason;
  modelCalls: number;
  /** ms from startedAt to the first generated token (forced or sampled); total if none. */
  firstTokenMs: number;
  totalMs: number;
  maskedSteps: number;
  suffixCheck: SuffixCheck;
  /** How a cut completion got an allowed end (grammar modes; 'none' otherwise). */
  endRepair: EndRepair;
  /** Tokens decoded past maxTokens (grace). */
  graceTokens: number;
  /** The cache after the last token run through the model (owned by the caller). */
  cache: KvCache;
}

/** `bytes` followed by `append` (a fresh array). */
function withAppended(bytes: Uint8Array, append: Uint8Array | null): Uint8Array {
  const out = new Uint8Array(bytes.length + (append?.length ?? 0));
  out.set(bytes);
  if (append) out.set(append, bytes.length);
  return out;
}

/** Growable byte buffer for the completion. */
class ByteBuf {
  private buf = new Uint8Array(256);
  length = 0;
  push(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + bytes.length));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** The selector used when no grammar mode plugs one in: plain sampling from the scores. */
export class SamplingSelector implements TokenSelector {
  readonly name = 'sampling';
  select(ctx: SelectContext): number {
    return ctx.sampling.sample(ctx.scores);
  }
  accept(): void {}
}

/**
 * Generates one completion. Never throws for stop conditions: aborts return the partial text
 * with stopReason 'aborted', grammar dead ends 'grammar'. Throws only on model errors.
 */
export async function decode(input: DecodeInput): Promise<DecodeOutput> {
  const { model, tokenizer, params, endTokens, signal } = input;
  const hooks = input.hooks ?? {};
  const processors = hooks.processors ?? [];
  const selector: TokenSelector = hooks.selector ?? new SamplingSelector();
  const sampling = samplingTools(params, input.rng);
  const started = input.startedAt ?? performance.now();
  const stopChecks: StopCheck[] = [];
  const stopStrings = stopStringCheck(params.stop);
  if (stopStrings) stopChecks.push(stopStrings);
  const guard = lineLoopGuard(params.maxBlankLines ?? -1, params.maxRepeatedLines ?? 0);
  if (guard) stopChecks.push(guard);
  const repeats = repeatLoopGuard(params.maxRepeatsInLine ?? 0);
  if (repeats) stopChecks.push(repeats);
  stopChecks.push(...(hooks.stopChecks ?? []));

  const tokens: number[] = [];
  const out = new ByteBuf();
  let modelCalls = 0;
  let firstTokenMs = -1;
  let cache = input.cache;
  let logits = input.logits;
  let stopReason: StopReason | null = null;
  let keepBytes = -1;
  /** Tokens after which max tokens stops the completion (raised by grace). */
  let limit = params.maxTokens;
  /** Decoding past a stop in grace (TokenSelector.graceTokens): the reason it stopped for. */
  let grace: StopReason | null = null;
  let contextFull = false;
  /** Whether any step was decoded (a completion stopped before its first step gets no grace). */
  let stepped = false;

  /** Commits one token; returns a stop reason from the stop rules, if any. */
  const commit = async (token: number, forcedToken = false): Promise<StopReason | null> => {
    tokens.push(token);
    if (firstTokenMs < 0) firstTokenMs = performance.now() - started;
    out.push(tokenizer.tokenBytes(token));
    selector.accept(token);
    for (const p of processors) await p.accept(token);
    const bytes = out.view();
    hooks.onToken?.(token, bytes);
    if (forcedToken || grace) {
      // Forced tokens re-spell the user's text: stop rules see them (their state advances) but
      // cannot end the completion inside them.
      if (!grace) for (const c of stopChecks) c.check(bytes, tokens);
      // In grace only the repeat guard (it keeps no state across the rollback): a model that
      // loops again is cut at the loop's first copy, where the end is repaired.
      const hit = grace && repeats ? repeats.check(bytes, tokens) : null;
      if (hit) {
        keepBytes = hit.keepBytes ?? -1;
        return grace;
      }
      return grace && tokens.length >= limit ? grace : null;
    }
    for (const c of stopChecks) {
      const hit = c.check(bytes, tokens);
      if (hit) {
        if (hit.keepBytes !== undefined) keepBytes = hit.keepBytes;
        return hit.reason;
      }
    }
    return tokens.length >= limit ? 'max_tokens' : null;
  };

  // Forced prefix from healing.
  const forced = input.forced?.ids ?? [];
  for (const t of forced) await commit(t, true);
  if (forced.length > 0 && tokens.length >= params.maxTokens) stopReason = 'max_tokens';
  if (input.forced?.state) {
    // The healer's fork, extended by the forced tokens: the loop owns it from here.
    cache = input.forced.state.cache;
    logits = input.forced.state.logits;
  } else if (forced.length > 0 && !stopReason) {
    if (signal?.aborted) {
      stopReason = 'aborted';
    } else {
      [logits] = (await model.forward([{ ids: forced, cache }])) as [Float32Array];
      modelCalls++;
    }
  }
  if (params.maxTokens <= 0) stopReason ??= 'max_tokens';
  if (signal?.aborted) stopReason ??= 'aborted';
  const endSet: ReadonlySet<number> = new Set(endTokens.keys());
  // Positions before the completion in the cache, and the logits after them (grace rollbacks).
  const base = cache.length - tokens.length;
  const logits0 = logits;

  for (;;) {
    while (!stopReason) {
      stepped = true;
      const step = tokens.length;
      const scores = Float32Array.from(logits);
      if (input.banned) for (const b of input.banned) scores[b] = -Infinity;
      if (input.minNewTokens && step - forced.length < input.minNewTokens) for (const e of endTokens.keys()) scores[e] = -Infinity;
      const ctx: StepContext = { generated: tokens, step };
      for (const p of processors) await p.process(ctx, scores);
      const endAllowed = selector.canEnd ? selector.canEnd() : true;
      const selectCtx = (s: Float32Array, allowed: boolean): SelectContext => ({
        generated: tokens,
        step,
        scores: s,
        endTokens: endSet,
        endAllowed: allowed,
        sampling,
        generatedBytes: out.view(),
      });
      const keep = endAllowed ? null : Float32Array.from(scores);
      let token = await selector.select(selectCtx(scores, endAllowed));
      if (token >= 0 && endTokens.has(token) && !endAllowed) {
        // Suffix-aware termination: ending is not allowed here; choose among the other tokens.
        for (const e of endTokens.keys()) keep![e] = -Infinity;
        token = await selector.select(selectCtx(keep!, false));
        if (endTokens.has(token)) token = -1;
      }
      if (token < 0) {
        stopReason = grace ?? 'grammar';
        break;
      }
      const end = endTokens.get(token);
      if (end) {
        if (firstTokenMs < 0) firstTokenMs = performance.now() - started;
        stopReason = grace ?? end;
        break;
      }
      stopReason = await commit(token);
      if (stopReason) break;
      if (signal?.aborted) {
        stopReason = 'aborted';
        break;
      }
      if (cache.length + 1 > model.contextLength) {
        stopReason = grace ?? 'max_tokens';
        contextFull = true;
        break;
      }
      [logits] = (await model.forward([{ ids: [token], cache }])) as [Float32Array];
      modelCalls++;
    }
    // Grace (grammar modes): stopped by max tokens or a loop guard where the completion may not
    // end, decode a bounded number of tokens more — after a loop guard, from the text it kept —
    // until the selector lets it end.
    if (grace || contextFull || !stepped || !selector.graceTokens || endSet.size === 0 || signal?.aborted) break;
    if (stopReason !== 'max_tokens' && stopReason !== 'loop') break;
    let at = tokens.length;
    if (stopReason === 'loop') {
      // Roll back to the last token boundary within the kept bytes (never into forced tokens);
      // processors (steering) cannot be rolled back.
      if (processors.length > 0 || !selector.rollback) break;
      const keep = keepBytes >= 0 ? keepBytes : out.length;
      let bytes = 0;
      at = 0;
      while (at < tokens.length && bytes + tokenizer.tokenBytes(tokens[at]!).length <= keep) bytes += tokenizer.tokenBytes(tokens[at++]!).length;
      if (at < forced.length || at - forced.length < (input.minNewTokens ?? 0)) break;
    }
    const extra = selector.graceTokens(stopReason, params.maxTokens, at);
    if (!(extra > 0)) break;
    grace = stopReason;
    stopReason = null;
    keepBytes = -1;
    if (at < tokens.length) {
      selector.rollback!(at);
      let bytes = 0;
      for (let i = 0; i < at; i++) bytes += tokenizer.tokenBytes(tokens[i]!).length;
      tokens.length = at;
      out.length = bytes;
    }
    limit = tokens.length + extra;
    // The cache holds the completion but its last token; bring it to the logits after `at` tokens.
    if (at === 0) {
      cache.truncate(base);
      logits = logits0;
    } else {
      if (cache.length > base + at - 1) cache.truncate(base + at - 1);
      if (cache.length + 1 > model.contextLength) {
        stopReason = grace;
        break;
      }
      [logits] = (await model.forward([{ ids: [tokens[at - 1]!], cache }])) as [Float32Array];
      modelCalls++;
    }
  }

  let append: Uint8Array | null = null;
  if (selector.trimEnd && (stopReason === 'max_tokens' || stopReason === 'loop' || stopReason === 'stop_string')) {
    // Grammar modes: cut back to where prefix + completion + suffix is still accepted, or
    // close what is open there (H7).
    const keep = keepBytes >= 0 ? keepBytes : out.length;
    const trimmed = selector.trimEnd(stopReason, keep);
    const len = typeof trimmed === 'number' ? trimmed : trimmed.keepBytes;
    if (len >= 0 && len <= keep) {
      if (len < keep) keepBytes = len;
      if (typeof trimmed !== 'number' && trimmed.append.length > 0) {
        keepBytes = len;
        append = trimmed.append;
      }
    }
  }
  // Never cut into the re-spelled text before the cursor.
  const minBytes = Math.min(input.forced?.minBytes ?? 0, out.length);
  if (keepBytes >= 0 && keepBytes < minBytes) keepBytes = minBytes;
  const stats = selector.stats?.() ?? {};
  const totalMs = performance.now() - started;
  const all = out.view();
  return {
    tokens,
    bytes: withAppended(keepBytes >= 0 ? all.subarray(0, keepBytes) : all, append),
    stopReason,
    modelCalls,
    firstTokenMs: firstTokenMs < 0 ? totalMs : firstTokenMs,
    totalMs,
    maskedSteps: stats.maskedSteps ?? 0,
    suffixCheck: stats.suffixCheck ?? 'none',
    endRepair: stats.endRepair ?? 'none',
    graceTokens: Math.max(0, tokens.length - Math.max(params.maxTokens, 0)),
    cache,
  };
}
