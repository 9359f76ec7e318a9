// The interface between the grammar engine and a language's external-scanner emulation
// (grammars/<language>/scanner.ts). tree-sitter grammars delegate some tokens to a hand-written C
// scanner (src/scanner.c in each npm package); Trellis re-implements each one as pure functions
// over plain data, which the engine runs byte by byte next to its regex lexer:
//
// - `externalLexemes`: externals that are plain regular lexemes (JavaScript's `html_comment`):
//   compiled like any PATTERN.
// - `hooks`: a stateful emulation for the rest (indentation, string delimiters, semicolons).
//
// How the engine drives `hooks` (mirroring tree-sitter, which calls the scanner first at every
// token boundary and falls back to the internal lexer when it returns false):
// 1. At each lexeme boundary the engine calls `begin(ext, valid)`; `valid(i)` says whether the
//    parser expects external i (index in grammar.json `externals`). A non-null result is a *run*.
// 2. Each following byte goes to `step(run, byte)` AND to the regex lexer, in parallel. `step`
//    returns the next run, `null` (the scanner returns false: only the lexer continues), or a
//    verdict `{ token, ext, refeed }`: the scanner emits external `token`, the persistent state
//    becomes `ext` (or `ext` applied to the state the run began in), and the bytes in `refeed`
//    (those after the token's end, always including the current byte, or every byte of the run
//    for a zero-width token) are fed again from the new boundary. A verdict wins over the lexer's
//    hypothesis.
// 3. At end of input the engine calls `eof(run, ext)` (same verdicts).
// 4. A run need not carry the persistent state. `begin` may read only the part `runKey(ext)`
//    names (so runs begun in states with equal keys are one run, and the engine's tables and mask
//    memos for them are shared); a step that needs the rest returns `{ ask }` instead of a result,
//    and the engine answers it by `resolve(ext, ask)` with the state the run began in.
// Runs and ext states must be plain JSON data: the engine interns them by their JSON text and
// memoizes `step`, so after warm-up a scanner byte costs a map lookup.
// An external with neither an emulation nor a lexeme is never produced: the grammar still
// constrains everything else.

import type { TsGrammar } from './passes/read';

/** A decision of the external scanner: emit one external token. */
export interface ScannerVerdict<E> {
  /** Index of the token in grammar.json `externals`. */
  token: number;
  /**
   * Persistent scanner state after the token; or an edit of the state the run began in (a pure
   * function, `keepExt` for none), so that a run need not carry that state: runs that differ
   * only in parts of it they never read (a string's content does not depend on the indentation)
   * are then one run, and the engine's tables for them are shared.
   */
  ext: E | ((begun: E) => E);
  /** Bytes to feed again after the token (see above). */
  refeed: number[];
  /**
   * Zero-width token at the run's start: the engine feeds again every byte the run consumed,
   * then `refeed`. (The engine keeps those bytes, so runs need not carry them.)
   */
  refeedRun?: boolean;
}

/** The verdict edit that leaves the scanner state as the run found it. */
export const keepExt = <E>(ext: E): E => ext;

export type StepResult<E, R> = { run: R } | { verdict: ScannerVerdict<E> } | null;

/** A step's result, or a question about the persistent state the run began in (see `resolve`). */
export type StepOrAsk<E, R> = StepResult<E, R> | { ask: unknown };

/** A byte-level emulation of an external scanner. `E`: persistent state, `R`: run state. */
export interface ScannerHooks<E = unknown, R = unknown> {
  /** Persistent state at the start of a file. */
  initial: E;
  /** A run starting at a lexeme boundary, or null when the scanner surely declines here. */
  begin(ext: E, valid: (external: number) => boolean): R | null;
  step(run: R, byte: number): StepOrAsk<E, R>;
  /** End of input inside a run begun in state `ext`. */
  eof(run: R, ext: E): ScannerVerdict<E> | null;
  /**
   * The part of the persistent state `begin` reads, as a string (absent: all of it). Mask memos
   * are keyed by it, not by the whole state: everything else a walk learns of the state goes
   * through `resolve`, which the engine notes as such. So a verdict's edit must leave a key
   * that the key before and the run determine (a pop exposes what is below the top: the key
   * holds the whole stack).
   */
  runKey?(ext: E): string;
  /** Answers a step's `{ ask }` with the state the run began in (plain JSON in, as `step`). */
  resolve?(ext: E, ask: never): StepResult<E, R>;
  /**
   * A key for a run that will ask at its line's next significant byte (Python's layout run in a
   * line's indentation), begun in state `ext`, having read `bytes` (oldest first): states with
   * equal keys must get equal answers to every ask made on that line, also by the runs that the
   * zero-width tokens it decides begin (they read those bytes again), and take equal steps
   * otherwise. Python's holds the indent stack relative to the line's column, so a line start
   * meets the memos of every nesting depth with the same shape. Null: none here. The engine uses
   * it only where no token of the vocabulary reaches a later line (see `sameLine`).
   */
  lineKey?(ext: E, run: R, bytes: readonly number[]): string | null;
  /** Whether every ask a run can make inside these bytes (one token's) is on the line they begin on. */
  sameLine?(bytes: Uint8Array): boolean;
  /**
   * A key for the bytes a run has read (oldest first), where a zero-width token would read them
   * again: runs that are equal and whose bytes have equal keys must read them again into states
   * that take equal steps from then on (JavaScript: whitespace, by whether spaces come before a
   * newline and whether there is one; the indentation after it does not matter). Null: the
   * bytes themselves are the key. Mask memos then meet a line end at any indentation.
   */
  runBytesKey?(bytes: readonly number[]): string | null;
}

/** Per-language emulation module. */
export interface ScannerModule {
  /** Language id this module serves. */
  language: string;
  /** Bumped when the emulation changes (part of the compiled-grammar cache key). */
  version: string;
  /** External name → u-mode JavaScript regex source for externals that are plain lexemes. */
  externalLexemes?: Record<string, string>;
  hooks?: ScannerHooks<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /**
   * Rewrites of grammar.json (a copy) for conflicts tree-sitter's parse table resolves statically
   * (by precedence or the order of its LR actions): a context-free recognizer would otherwise
   * accept readings tree-sitter can never produce. Each one is checked against tree-sitter.
   */
  resolve?: (grammar: TsGrammar) => void;
  /** Example texts of external tokens, for the ending search (Matcher.nextLexemeExamples). */
  externalExamples?: Record<string, string>;
}
