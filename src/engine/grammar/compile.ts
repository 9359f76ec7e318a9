// The grammar compiler: grammar.json → CompiledGrammar, by named passes (passes/*.ts):
// read → normalize → factor → lexemes (regex → byte DFA) → keywords. Pure: takes data, returns data.
import type { CompiledGrammar, Terminal } from './types';
import type { ScannerModule } from './scanner';
import { readGrammar } from './passes/read';
import { normalize } from './passes/normalize';
import { regexToByteDfa, escapeLiteral } from './passes/lexemes';
import { markKeywords } from './passes/keywords';
import { leftFactor } from './passes/factor';

/** Bump when the compiled format or any pass changes (invalidates on-disk caches). */
export const COMPILER_VERSION = 'trellis-grammar-3';

/**
 * Compiles a parsed grammar.json document. `file` names it in errors; `scanner` supplies the
 * language's external-scanner emulation (undefined: externals stay unproduced).
 */
export function compileGrammar(doc: unknown, file: string, language: string, hash: string, scanner?: ScannerModule): CompiledGrammar {
  let g = readGrammar(doc, file);
  if (scanner?.resolve) { g = structuredClone(g); scanner.resolve(g); }
  const n = normalize(g, file);
  const f = leftFactor(n.rules, n.nonterminals, n.terminals.length, n.start);
  const terminals: Terminal[] = n.terminals.map((p) => {
    const t: Terminal = { name: p.name, kind: p.kind, immediate: p.immediate, prec: p.prec, keyword: false };
    if (p.literal !== undefined) t.text = p.literal;
    if (p.reservedContext !== undefined) t.reservedContext = p.reservedContext;
    let source = p.source;
    if (p.kind === 'external' && scanner?.externalLexemes?.[p.name] !== undefined) {
      t.kind = 'regex';
      source = scanner.externalLexemes[p.name];
    }
    if (t.kind === 'regex') t.dfa = regexToByteDfa(source, p.flags, `${file}: rule "${p.rule}"`);
    return t;
  });
  markKeywords(terminals, n.word);
  void escapeLiteral;
  return {
    language,
    source: file,
    hash,
    terminals,
    nonterminals: f.nonterminals,
    rules: f.rules,
    start: n.start,
    extras: n.extras,
    word: n.word,
    reserved: n.reserved,
    externals: n.externals,
  };
}
