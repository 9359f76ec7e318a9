// The decode loop's extension points: how grammar modes (mask / aligned, suffix-aware ending),
// token healing and GeDi steering plug into `decode()` (loop.ts) without changing it.
// This file holds types only; the loop in loop.ts calls them in this order per step:
//
//   logits = model.forward(...)                          (raw logits, one row)
//   for p of processors: p.process(ctx, scores)          (GeDi etc.: log-weights, −Inf bans)
//   t = selector.select(selectCtx)                       (grammar: opportunistic mask, ASAp; −1 = dead end)
//   if t is an end token and canEnd() is false → end tokens banned, select() called once more
//   commit: processors.accept(t), selector.accept(t), stop checks (stop strings, loop guards, max tokens)
//   stopped by max tokens / a loop guard: selector.graceTokens() > 0 → (rollback) and more steps,
//   ending at the first end token the selector returns (stop rules are not consulted then)
//   end: selector.trimEnd() for completions cut without an end token
//
// Healing runs once before the loop (PromptTailHealer): it receives the prompt's KV cache and
// returns tokens that the completion is forced to start with.
// Stability: these types are a contract between H3 (loop), H6 (healing), H7 (grammar), H8 (GeDi).
// Change them only additively.

import type { EndRepair, SamplingOptions, StopReason, SuffixCheck } from '../api';
import type { KvCache, LanguageModel, LogitsProcessor, Matcher, StepContext, TokenizerLike } from '../interfaces';

/** A deterministic random source (rng.ts). `next()` is uniform in [0, 1). */
export interface Rng {
  next(): number;
  /** Independent copy with the same future sequence. */
  clone(): Rng;
}

/**
 * Sampling helpers the loop hands to selectors, so that every selector samples the same way
 * (temperature, top-k, top-p, seeded RNG) and greedy stays greedy at temperature 0.
 */
export interface SamplingTools {
  readonly params: Readonly<SamplingOptions>;
  readonly rng: Rng;
  /**
   * Draws a token from `scores` (log-weights; −Infinity = banned) under the sampling params.
   * Returns −1 when every token is banned. Does not modify `scores`.
   */
  sample(scores: Float32Array): number;
  /**
   * The distribution `sample` draws from: softmax(scores / T) after top-k/top-p truncation, as a
   * dense array summing to 1 (or all zeros when everything is banned). At T = 0 it is one-hot on
   * the argmax. ASAp uses it to weight children by P(t|u).
   */
  probabilities(scores: Float32Array): Float32Array;
}

/** Everything a selector sees at one step. */
export interface SelectContext extends StepContext {
  /**
   * Processed log-weights over the vocabulary (after the processor pipeline). The selector may
   * modify it (e.g. apply a mask) — the loop does not reuse it after select().
   */
  readonly scores: Float32Array;
  /** Token ids that end the completion (EOS, FIM end/EOT). Never masked in by a grammar. */
  readonly endTokens: ReadonlySet<number>;
  /** Whether ending here is allowed (the loop's canEnd hook; true when there is none). */
  readonly endAllowed: boolean;
  readonly sampling: SamplingTools;
  /** Bytes of the completion so far (forced healing bytes included). */
  readonly generatedBytes: Uint8Array;
}

/**
 * Chooses the next token. Default: `SamplingSelector` (plain sampling). The grammar modes (H7)
 * implement this: sample first with `ctx.sampling.sample(ctx.scores)`, check `matcher.allows(t)`,
 * compute the full mask only on rejection; ASAp reweights with its θ trie.
 */
export interface TokenSelector {
  readonly name: string;
  /** The chosen token id, or −1 for a dead end (the loop stops with stopReason 'grammar'). */
  select(ctx: SelectContext): number | Promise<number>;
  /**
   * Commits a token (matcher.consume, ASAp trie descent). Called for every token of the
   * completion, forced healing tokens included, in order. End tokens are NOT passed here.
   */
  accept(token: number): void;
  /** Suffix-aware termination (algorithms.md §3): may the completion end after the tokens so far? */
  canEnd?(): boolean;
  /**
   * Called once when decoding stops without an end token for reason max_tokens, loop or
   * stop_string, with the bytes the loop would keep. Returns the bytes to keep (≤ keepBytes),
   * optionally followed by bytes to append: the grammar modes trim back to the last point where
   * the completion may end, or close the brackets/strings left open (H7, additive).
   */
  trimEnd?(reason: StopReason, keepBytes: number): number | { keepBytes: number; append: Uint8Array };
  /**
   * Grace tokens (grammar modes, additive): decoding stopped for `reason` (max_tokens, or loop
   * keeping the first `atTokens` tokens) at a point where the completion may not end. Returns
   * how many more tokens the loop may decode (after rolling back to `atTokens`), ending with an
   * end token as soon as the selector allows; 0 or absent: none. Called at most once per
   * completion; while in grace the stop rules are not consulted and the completion keeps
   * stopReason `reason`.
   */
  graceTokens?(reason: StopReason, maxTokens: number, atTokens: number): number;
  /** Forget the tokens after the first `n` (the loop rolled back before grace). */
  rollback?(n: number): void;
  /** Counters merged into CompletionResult.stats at the end of the completion. */
  stats?(): SelectorStats;
  dispose?(): void;
}

export interface SelectorStats {
  /** Steps where the full mask was computed (the sampled token was rejected). */
  maskedSteps?: number;
  /** Which check allowed the completion to end. */
  suffixCheck?: SuffixCheck;
  /** How a completion cut without an end token got its end (grammar modes' trimEnd). */
  endRepair?: EndRepair;
}

export type { EndRepair };

/**
 * An extra stop rule checked after each committed token (loop guards, custom stops).
 * Return a reason to stop, and how many bytes of the completion to keep (default: all).
 */
export interface StopCheck {
  readonly name: string;
  check(generatedBytes: Uint8Array, generated: readonly number[]): { reason: StopReason; keepBytes?: number } | null;
}

/** All hooks for one completion (one candidate). Everything is optional. */
export interface DecodeHooks {
  /** Run in order on the scores of every step (GeDi weights, repetition penalties …). */
  processors?: LogitsProcessor[];
  /** Default: plain sampling from the processed scores. */
  selector?: TokenSelector;
  /** Extra stop rules after the built-in ones (stop strings, max tokens). */
  stopChecks?: StopCheck[];
  /** Called with every committed token (progress reporting, streaming). */
  onToken?(token: number, generatedBytes: Uint8Array): void;
}

/** What a healer receives: the prompt without the tail, already prefilled in `cache`. */
export interface HealArgs {
  model: LanguageModel;
  tokenizer: TokenizerLike;
  /** Holds the prompt (without the tail). The healer must not modify it: fork it instead. */
  cache: KvCache;
  /** The prompt ids in the cache. */
  promptIds: readonly number[];
  /** Logits after the last prompt id (vocabSize floats). */
  lastLogits: Float32Array;
  /** Bytes removed from the end of the prefix; the completion must start with them. */
  tail: Uint8Array;
  sampling: SamplingTools;
  /** Grammar state after the prefix without the tail; covers with non-viable bytes are dropped. Snapshot/restore around checks. */
  matcher?: Matcher;
  signal?: AbortSignal;
}

export interface HealResult {
  /**
   * Tokens the completion starts with; their bytes start with `tail` (they may extend past it).
   * When nothing better exists (no viable cover), return the canonical encoding of `tail`, so
   * the completion still re-spells it. Never empty when `tail` is non-empty.
   */
  forcedIds: number[];
  /**
   * Optional: the prompt cache already extended by `forcedIds` (a fork the loop takes ownership
   * of) and the logits after the last forced id. Saves one forward pass. If absent, the loop runs
   * `forcedIds` through the model on the prompt cache itself.
   */
  state?: { cache: KvCache; logits: Float32Array };
  /** Model forward passes the healer made (for stats.modelCalls). */
  modelCalls: number;
  /** Cover encodings scored (stats.healingCovers). */
  covers: number;
}

/**
 * Token healing (H6): decides how many bytes at the end of the prefix to re-spell, then chooses
 * the forced first tokens of the completion. The engine removes `tailLength` bytes from the
 * prefix before building the prompt, so the completion re-spells them; the result's
 * `respelledChars` counts them in UTF-16 units.
 */
export interface PromptTailHealer {
  readonly mode: 'token' | 'exact';
  /** Bytes at the end of `prefix` to re-spell (0 = nothing to heal). Must not split a UTF-8 character. */
  tailLength(prefix: Uint8Array): number;
  heal(args: HealArgs): Promise<HealResult>;
}
