// Shared helpers for the grammar tests: a byte-level matcher over a language and real files.
import { loadGrammar, createMatcher, type CompiledGrammar } from '../../../src/engine/grammar';
import type { GrammarMatcher } from '../../../src/engine/grammar/matcher';
import { BYTE_TOKENIZER, checkBytes } from '../../../src/cli/commands/grammar';

const grammars = new Map<string, CompiledGrammar>();

export function grammar(lang: string): CompiledGrammar {
  let g = grammars.get(lang);
  if (!g) { g = loadGrammar(lang); grammars.set(lang, g); }
  return g;
}

export function matcher(lang: string): GrammarMatcher {
  return createMatcher(grammar(lang), undefined, BYTE_TOKENIZER);
}

const enc = new TextEncoder();

/** Accepted as a whole program, and where the prefix dies (null: never). */
export function check(lang: string, text: string): { accepted: boolean; deadAt: number | null } {
  return checkBytes(matcher(lang), enc.encode(text));
}

export const accepts = (lang: string, text: string) => check(lang, text).accepted;
