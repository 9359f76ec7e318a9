// Emulation of tree-sitter-typescript's external scanner (node_modules/tree-sitter-typescript/common/scanner.h).
import type { ScannerModule } from '../../src/engine/grammar/scanner';

export const typescriptScanner: ScannerModule = {
  language: 'typescript',
  version: '1',
  externalLexemes: {
    html_comment: '<!--[^\\r\\n\\u2028\\u2029]*',
  },
};
