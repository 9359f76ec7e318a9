// Emulation of tree-sitter-javascript's external scanner (node_modules/tree-sitter-javascript/src/scanner.c).
import type { ScannerModule } from '../../src/engine/grammar/scanner';

export const javascriptScanner: ScannerModule = {
  language: 'javascript',
  version: '1',
  externalLexemes: {
    // scanner.c: `<!--` … to end of line, only at the start of a line in practice
    html_comment: '<!--[^\\r\\n\\u2028\\u2029]*',
  },
};
