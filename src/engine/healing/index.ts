// Token healing (algorithms.md §4): the healers the decode loop runs on a prompt that ends inside
// a token, the cover-encoding machinery behind them, and exact byte-level probabilities.
export { DEFAULT_PROBES, Canonicalizer, type CoverCandidate, type CoverOptions } from './covers';
export { PrefixIndex } from './prefix-index';
export { forwardLogits, logSumExp, scoreTail, type Logits, type ModelState, type PreciseLanguageModel, type ScoredTail } from './scoring';
export { ByteLevelScorer, type ByteDistribution, type ByteLevelOptions } from './byte-level';
export { ExactHealer, TokenHealer, createHealer, matcherViability, bytesBeyond, type HealerOptions } from './healers';
