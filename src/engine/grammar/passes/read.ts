// Pass 1: read and validate a tree-sitter grammar.json document (already parsed from JSON).
// Only shape checks live here; meaning is given by the later passes.
import { TrellisError } from '../../api';

/** A node of tree-sitter's grammar DSL as serialized in grammar.json. */
export interface TsNode {
  type: string;
  value?: string | number;
  name?: string;
  flags?: string;
  content?: TsNode;
  members?: TsNode[];
  named?: boolean;
  context_name?: string;
}

export interface TsGrammar {
  name: string;
  word?: string;
  rules: Record<string, TsNode>;
  extras?: TsNode[];
  externals?: TsNode[];
  inline?: string[];
  supertypes?: string[];
  reserved?: Record<string, TsNode[]>;
}

/** Checks the top-level shape of grammar.json; throws `grammar_invalid` naming the file. */
export function readGrammar(doc: unknown, file: string): TsGrammar {
  const fail = (why: string): never => {
    throw new TrellisError(`${file}: not a tree-sitter grammar.json (${why}); reinstall the grammar package`, 'grammar_invalid', file);
  };
  if (!doc || typeof doc !== 'object') fail('not an object');
  const g = doc as TsGrammar;
  if (typeof g.name !== 'string') fail('missing "name"');
  if (!g.rules || typeof g.rules !== 'object' || Object.keys(g.rules).length === 0) fail('missing "rules"');
  for (const [name, node] of Object.entries(g.rules)) {
    if (!node || typeof node !== 'object' || typeof (node as TsNode).type !== 'string') fail(`rule "${name}" has no type`);
  }
  return g;
}
