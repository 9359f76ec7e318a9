// Loop guards beyond the line guards of stops.ts (algorithms.md §6): a bound on runs of
// whitespace-only tokens, which the line guards miss when a model pads one line with spaces or
// tabs, or alternates indentation tokens. Policy, shared with stops.ts: stop with reason 'loop'
// and keep the text before the run — banning tokens instead would change P(t|u) depending on the
// history and leave the model free to loop on the next always-legal token. With a grammar mode
// the selector then trims the kept text back to the last point where the grammar lets it end
// (TokenSelector.trimEnd), so a guarded completion still parses with the suffix.
import type { TokenizerLike } from '../interfaces';
import type { StopCheck } from './hooks';

/** Default bound on consecutive whitespace-only tokens. */
export const DEFAULT_MAX_WHITESPACE_TOKENS = 8;

function isWhitespaceOnly(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0b && b !== 0x0c) return false;
  return true;
}

/**
 * Stops with 'loop' when more than `maxRun` consecutive generated tokens are whitespace only,
 * keeping the text before the run. `maxRun` ≤ 0 or not finite disables it (returns null).
 * Token classes are computed once per token id and cached.
 */
export function whitespaceRunGuard(tokenizer: TokenizerLike, maxRun = DEFAULT_MAX_WHITESPACE_TOKENS): StopCheck | null {
  if (!(maxRun > 0) || !Number.isFinite(maxRun)) return null;
  const cls = new Int8Array(tokenizer.vocabSize); // 0 unknown, 1 whitespace only, 2 other
  let run = 0;
  let runStart = 0;
  let bytesSeen = 0;
  let seen = 0;
  return {
    name: 'whitespace-run-guard',
    check(generatedBytes, generated) {
      for (; seen < generated.length; seen++) {
        const t = generated[seen]!;
        const len = tokenizer.tokenBytes(t).length;
        if (cls[t] === 0) cls[t] = tokenizer.isSpecial(t) ? 2 : isWhitespaceOnly(tokenizer.tokenBytes(t)) ? 1 : 2;
        if (cls[t] === 1) {
          if (run === 0) runStart = bytesSeen;
          run++;
        } else {
          run = 0;
        }
        bytesSeen += len;
        if (run > maxRun) {
          seen = generated.length;
          return { reason: 'loop', keepBytes: Math.min(runStart, generatedBytes.length) };
        }
      }
      return null;
    },
  };
}
