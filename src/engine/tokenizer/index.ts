// The tokenizer package: byte-level BPE from tokenizer.json, and the token trie.
export { Tokenizer } from './tokenizer';
export type { EncodeOptions, AddedTokenInfo } from './tokenizer';
export { TokenTrie } from './trie';
export { translateOnigurumaRegex, RegexTranslationError } from './regex';
export { PreTokenizer, GPT2_PATTERN } from './pretokenizer';
