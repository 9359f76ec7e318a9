// The engine's internal contracts: the nouns of architecture.md that several modules share.
// Implementations live in their own folders (tokenizer/, runtime/, grammar/, decode/, healing/,
// steering/); code depends on these interfaces so that tests can pair any of them with real parts.
// Bytes inside: every text here is UTF-8 bytes; strings exist only at the facade (api.ts).

/** A byte-level tokenizer loaded from a Hugging Face tokenizer.json. */
export interface TokenizerLike {
  /** Number of token ids (including added/special tokens); ids are 0..vocabSize-1. */
  readonly vocabSize: number;
  /** Canonical encoding of UTF-8 bytes (no special-token parsing inside the text). */
  encodeBytes(bytes: Uint8Array): number[];
  /** Exact bytes of a token; special tokens yield their literal UTF-8 spelling. */
  tokenBytes(id: number): Uint8Array;
  /** Concatenated bytes of a token sequence. */
  decodeBytes(ids: readonly number[]): Uint8Array;
  /** Id of a special/added token by its content (`<fim_prefix>`), or undefined. */
  specialTokenId(content: string): number | undefined;
  /** True for added/special tokens (never produced by encodeBytes, never masked in by grammar). */
  isSpecial(id: number): boolean;
  /**
   * Byte offsets where the pre-tokenizer splits `bytes` into chunks (always starts with 0 and
   * ends with bytes.length). BPE never merges across these boundaries.
   */
  preTokenizeBoundaries(bytes: Uint8Array): number[];
}

/**
 * Attention keys/values of one sequence, kept between decode steps.
 * `fork` is cheap (copy-on-write or a copy); `truncate` drops positions ≥ length.
 */
export interface KvCache {
  /** Number of positions held. */
  readonly length: number;
  fork(): KvCache;
  truncate(length: number): void;
  dispose(): void;
}

export interface ForwardRow {
  /** New token ids appended after the cache's positions. */
  ids: readonly number[];
  /** Extended in place with the new positions. */
  cache: KvCache;
}

/** A decoder-only LM (ONNX in production; exact toy models in tests). */
export interface LanguageModel {
  readonly vocabSize: number;
  /** Maximum positions (prompt + generated). */
  readonly contextLength: number;
  newCache(): KvCache;
  /**
   * Runs every row as one batch. Returns, per row, raw logits: `vocabSize` floats for the
   * last position, or `ids.length × vocabSize` floats (row-major) when `allPositions` is set.
   */
  forward(rows: readonly ForwardRow[], options?: { allPositions?: boolean }): Promise<Float32Array[]>;
  dispose(): void;
}

/** Opaque state of a matcher, restorable in O(1) or close. */
export type MatcherSnapshot = unknown;

/**
 * Grammar state for one request. Knows the tokenizer's vocabulary (through a TokenTrie) but not
 * EOS: the decode loop allows ending only where `acceptsSuffix(suffix)` holds.
 */
export interface Matcher {
  /** Bitset over token ids (bit i of word i>>5): tokens whose bytes keep the prefix viable. Special tokens are never set. */
  computeMask(): Uint32Array;
  /** Whether one token keeps the prefix viable (cheaper than a full mask). */
  allows(token: number): boolean;
  /** Advances by a token; returns false (state unchanged) if it is not allowed. */
  consume(token: number): boolean;
  /** Advances by raw bytes (prompt prefix, healing leftovers); false (unchanged) if not viable. */
  consumeBytes(bytes: Uint8Array): boolean;
  snapshot(): MatcherSnapshot;
  restore(snapshot: MatcherSnapshot): void;
  /** The bytes consumed so far form a complete program. */
  isAccepting(): boolean;
  /** The bytes consumed so far followed by `suffix` form a complete program (state unchanged). */
  acceptsSuffix(suffix: Uint8Array): boolean;
  /**
   * Short example texts of the lexemes the grammar allows next (keywords and punctuation as
   * written, patterns by a shortest match), for searching a way to end a cut completion.
   */
  nextLexemeExamples?(): Uint8Array[];
}

/** Per-step view given to logits processors. */
export interface StepContext {
  /** Tokens generated so far in this completion (after healing's forced bytes). */
  readonly generated: readonly number[];
  /** Step index (0 for the first generated token). */
  readonly step: number;
}

/**
 * Adjusts next-token scores in place, as log-weights (−Infinity bans a token). Processors run
 * in pipeline order: grammar mask, ASAp weights, GeDi weights, sampling parameters.
 */
export interface LogitsProcessor {
  readonly name: string;
  process(ctx: StepContext, logits: Float32Array): void | Promise<void>;
  /** Called with the chosen token after sampling. */
  accept(token: number): void | Promise<void>;
  dispose?(): void;
}
