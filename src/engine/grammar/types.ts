// The compiled form of a tree-sitter grammar: a byte-level lexer (one small DFA per lexeme) plus a
// context-free grammar over those lexemes, ready for the Earley parser. Plain data: it is what the
// on-disk cache stores, so it holds no functions and no class instances.

/** One lexeme of the grammar: a literal, a pattern, a TOKEN(...) or an external scanner token. */
export interface Terminal {
  /** Human-readable name for errors and debugging (`"if"`, `/[0-9]+/`, `identifier`, `_newline`). */
  name: string;
  /** `regex`: matched by `dfa`; `external`: produced by the language's scanner emulation. */
  kind: 'regex' | 'external';
  /** IMMEDIATE_TOKEN: no extras may come before it. */
  immediate: boolean;
  /** Lexical precedence (PREC inside TOKEN); higher wins over a longer lower-precedence match. */
  prec: number;
  /** True for a STRING whose text matches the `word` lexeme (keyword extraction). */
  keyword: boolean;
  /** For keywords: the literal text. */
  text?: string;
  /** For the word lexeme and its reserved-context clones: name of the reserved-word set in force. */
  reservedContext?: string;
  /** Byte DFA (absent for externals). */
  dfa?: ByteDfa;
}

/**
 * A deterministic automaton over bytes. State 0 is the start. `edges` is a sparse list of
 * `[from, lo, hi, to]` quadruples (byte ranges inclusive); every state can reach an accepting state.
 */
export interface ByteDfa {
  states: number;
  accepting: number[];
  edges: number[];
}

export interface Rule {
  lhs: number;
  rhs: number[];
}

export interface CompiledGrammar {
  /** Language id (`python`, `json`, …). */
  language: string;
  /** Where grammar.json came from (for error messages). */
  source: string;
  /** Content hash of the inputs (grammar.json + compiler version). */
  hash: string;
  terminals: Terminal[];
  /** Nonterminal names; symbol ids: terminals are 0..T-1, nonterminal i is T+i. */
  nonterminals: string[];
  rules: Rule[];
  /** The augmented start nonterminal (symbol id). */
  start: number;
  /** Terminal ids allowed between any two lexemes (tree-sitter `extras`). */
  extras: number[];
  /** Terminal id of the `word` lexeme, or -1. */
  word: number;
  /** Reserved-word sets by context name: keyword texts that are never identifiers there. */
  reserved: Record<string, string[]>;
  /** Terminal ids by external-scanner name (index = position in grammar.json `externals`). */
  externals: (number | -1)[];
}
