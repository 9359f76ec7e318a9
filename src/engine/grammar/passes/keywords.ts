// Pass 4: keyword extraction, as tree-sitter does it. A STRING lexeme whose text the `word` lexeme
// matches is a keyword: the lexer reads a word, and the word becomes the keyword where the parser
// expects the keyword (or where the keyword is reserved), and stays a word elsewhere.
import type { Terminal } from '../types';
import { denseTable, dfaMatches } from './lexemes';

export function markKeywords(terminals: Terminal[], word: number): void {
  if (word < 0 || !terminals[word].dfa) return;
  const dfa = terminals[word].dfa!;
  const table = denseTable(dfa);
  const enc = new TextEncoder();
  for (const t of terminals) {
    if (t.kind !== 'regex' || t.text === undefined || t.reservedContext !== undefined) continue;
    if (dfaMatches(dfa, table, enc.encode(t.text))) t.keyword = true;
  }
}
