// Emulation of tree-sitter-typescript's external scanner (node_modules/tree-sitter-typescript/common/scanner.h):
// the JavaScript emulation in its TypeScript variant (see ../javascript/scanner.ts).
import type { ScannerModule } from '../../src/engine/grammar/scanner';
import { typescriptHooks } from '../javascript/scanner';

export const typescriptScanner: ScannerModule = {
  language: 'typescript',
  version: '2',
  externalLexemes: {
    html_comment: '<!--[^\\r\\n\\u2028\\u2029]*',
  },
  hooks: typescriptHooks,
};
