// Public surface of the grammar engine: load a language's compiled grammar, make a matcher.
export { loadGrammar, grammarLanguages, clearGrammarMemory } from './load';
export type { LoadGrammarOptions } from './load';
export { createMatcher, GrammarMatcher } from './matcher';
export type { MaskStateKind } from './matcher';
export { compileGrammar, COMPILER_VERSION } from './compile';
export type { CompiledGrammar, Terminal, ByteDfa, Rule } from './types';
