// Registry of languages with a grammar: which npm package ships the tree-sitter grammar.json and
// which module emulates its external scanner. grammar.json is read from node_modules at run time.
import type { ScannerModule } from '../src/engine/grammar/scanner';
import { pythonScanner } from './python/scanner';
import { javascriptScanner } from './javascript/scanner';
import { typescriptScanner } from './typescript/scanner';

export interface LanguageEntry {
  /** npm package holding the grammar. */
  pkg: string;
  /** grammar.json inside the package. */
  file: string;
  scanner?: ScannerModule;
}

export const LANGUAGES: Record<string, LanguageEntry> = {
  json: { pkg: 'tree-sitter-json', file: 'src/grammar.json' },
  jsonc: { pkg: 'tree-sitter-json', file: 'src/grammar.json' },
  python: { pkg: 'tree-sitter-python', file: 'src/grammar.json', scanner: pythonScanner },
  javascript: { pkg: 'tree-sitter-javascript', file: 'src/grammar.json', scanner: javascriptScanner },
  javascriptreact: { pkg: 'tree-sitter-javascript', file: 'src/grammar.json', scanner: javascriptScanner },
  typescript: { pkg: 'tree-sitter-typescript', file: 'typescript/src/grammar.json', scanner: typescriptScanner },
  typescriptreact: { pkg: 'tree-sitter-typescript', file: 'tsx/src/grammar.json', scanner: typescriptScanner },
};
