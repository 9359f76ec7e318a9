// The engine facade's public types: what the CLI, the inference worker and (through the
// protocol) the editor see. Strings and UTF-16 offsets live here; bytes live inside the engine.
// This file has no effects and imports nothing, so every layer may depend on it.

/** How the grammar constrains decoding (algorithms.md §1–2). */
export type GrammarMode = 'off' | 'mask' | 'aligned';
/** How a prompt that ends inside a token is repaired (algorithms.md §4). */
export type HealingMode = 'off' | 'token' | 'exact';
/** Why decoding stopped. `grammar`: the grammar left no allowed token (a dead end). */
export type StopReason = 'eos' | 'fim_end' | 'stop_string' | 'max_tokens' | 'grammar' | 'aborted' | 'loop';
/** Which check allowed the completion to end (algorithms.md §3). */
export type SuffixCheck = 'full' | 'block' | 'lines' | 'none';

/**
 * How a completion stopped without an end token (max tokens, loop guard, stop string) was made
 * to end where the grammar allows: `none` — not cut, or no grammar; `cut` — the cut itself was
 * an allowed end; `grace` — an allowed end was reached within the grace tokens; `trim` — cut
 * back to an earlier token boundary; `close` — closing delimiters or punctuation (`):`, `', `)
 * appended at a boundary, during grace or after it; `derive` — finished at a boundary with the
 * shortest lexemes the grammar allows next (`import x`); `stand-in` — the model's text replaced by a
 * probe stand-in middle (decode/grammar-suffix.ts); `failed` — kept as is, it may not parse.
 */
export type EndRepair = 'none' | 'cut' | 'grace' | 'trim' | 'close' | 'derive' | 'stand-in' | 'failed';

export interface SamplingOptions {
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /** 0 disables top-k. */
  topK: number;
  /** Same seed, same prompt, same options → same text. */
  seed: number;
  maxTokens: number;
  /** End tokens are refused until this many tokens were generated (infill: 1, never empty). */
  minTokens?: number;
  stop: string[];
}

export type PromptLayoutMode = 'auto' | 'fim' | 'plain';

export interface CompletionOptions extends SamplingOptions {
  grammar: GrammarMode;
  healing: HealingMode;
  /** Attribute name → weight ω (GeDi). Negative steers to the opposite class; 0 is off. */
  attributes: Record<string, number>;
  /** Upper bound on prompt tokens; the lines nearest the cursor are kept. */
  contextTokens: number;
  /**
   * Prompt layout: `fim` (the model's fill-in-the-middle template: the model sees the code after
   * the cursor), `plain` (left to right: the code after the cursor only constrains where the
   * completion may end, through the grammar), `auto` (the model card's choice, else `fim` when
   * the model has FIM tokens).
   */
  layout?: PromptLayoutMode;
  /** Cap on consecutive blank lines in a completion (loop guard). */
  maxBlankLines: number;
  /** Cap on identical consecutive non-blank lines (loop guard). */
  maxRepeatedLines: number;
  /**
   * Cap on consecutive copies of one stretch of a line (`.path.path.path`; loop guard): past it
   * the completion keeps the first copy. 0 turns the guard off.
   */
  maxRepeatsInLine: number;
}

export const DEFAULT_OPTIONS: CompletionOptions = {
  temperature: 0.2,
  topP: 0.95,
  topK: 0,
  seed: 0,
  maxTokens: 64,
  minTokens: 0,
  stop: [],
  grammar: 'mask',
  healing: 'exact',
  attributes: {},
  contextTokens: 1024,
  maxBlankLines: 2,
  maxRepeatedLines: 2,
  maxRepeatsInLine: 3,
};

export interface CompletionRequest {
  /** Text before the cursor (or before the selection for an infill). */
  prefix: string;
  /** Text after the cursor (or after the selection). */
  suffix: string;
  /** VS Code language id: `python`, `javascript`, `typescript`, `json`, … */
  languageId: string;
  /** Display name of the document, used only in error messages. */
  fileName?: string;
  options?: Partial<CompletionOptions>;
}

export interface CompletionTimings {
  /** Milliseconds from request to the first generated token. */
  firstTokenMs: number;
  totalMs: number;
  /** Generated tokens per second, excluding the prompt prefill. */
  tokensPerSecond: number;
}

export interface CompletionStats {
  promptTokens: number;
  generatedTokens: number;
  /** Model forward passes (prefill + steps + healing branches). */
  modelCalls: number;
  /** Steps where the full grammar mask had to be computed (the sampled token was rejected). */
  maskedSteps: number;
  /** Healing actually applied, and how many cover encodings were scored. */
  healing: HealingMode;
  healingCovers: number;
  /** Which check allowed the completion to end; `none` when the grammar was off. */
  suffixCheck: SuffixCheck;
  /** Grammar modes: how a completion cut without an end token was given an allowed end. */
  endRepair?: EndRepair;
  /** Grammar modes: tokens decoded past maxTokens looking for an allowed end (grace). */
  graceTokens?: number;
}

export interface CompletionResult {
  /**
   * Text to insert at the cursor. When `respelledChars` > 0 it starts with those characters
   * before the cursor again (healing re-spelled them), so the edit replaces
   * [cursor − respelledChars, cursor) with `text`.
   */
  text: string;
  /** UTF-16 code units before the cursor that `text` re-spells (healing). */
  respelledChars: number;
  stopReason: StopReason;
  timings: CompletionTimings;
  stats: CompletionStats;
}

/** An attribute the loaded discriminator can steer (from its manifest). */
export interface AttributeInfo {
  name: string;
  description: string;
  positiveCode: string;
  negativeCode: string;
  defaultWeight: number;
  /** Suggested slider range: [−maxWeight, +maxWeight]. */
  maxWeight: number;
}

export interface ModelInfo {
  name: string;
  directory: string;
  vocabSize: number;
  contextLength: number;
  fimTokens: { prefix: string; suffix: string; middle: string; end?: string } | null;
  attributes: AttributeInfo[];
  languages: string[];
}

/** An error a user can act on: names the file (if any) and the fix. */
export class TrellisError extends Error {
  constructor(
    message: string,
    readonly code:
      | 'model_missing_file'
      | 'model_mismatch'
      | 'model_corrupt'
      | 'tokenizer_invalid'
      | 'grammar_unknown_language'
      | 'grammar_invalid'
      | 'document_too_large'
      | 'document_binary'
      | 'bad_request'
      | 'aborted',
    readonly file?: string,
  ) {
    super(message);
    this.name = 'TrellisError';
  }
}
