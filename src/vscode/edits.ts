// Decisions that turn an engine completion into an editor edit: single- vs multi-line, the
// replace range (healing re-spelled characters before the cursor; closing punctuation after it),
// and dropping suggestions that only repeat what follows the cursor. Pure functions over strings
// (UTF-16 offsets relative to the cursor), no `vscode` import, unit-tested in node.

/** Characters that may follow the cursor and still leave room for a completion on this line. */
const CLOSING_ONLY = /^[\s)\]}>'"`;,:]*$/;
/** Line endings that open a block, where a multi-line completion is welcome. */
const BLOCK_OPENER = /(?:[:{[(]|=>)\s*$/;

/** True when the rest of the line is empty or only closing punctuation / whitespace. */
export function isClosingOnly(restOfLine: string): boolean {
  return CLOSING_ONLY.test(restOfLine);
}

/**
 * Whether a completion may span several lines: only when nothing but closing punctuation follows
 * on the line, and the cursor is on a blank line or right after a block opener (`:`, `{`, `[`, `=>`,
 * or `(` at the end of the line).
 */
export function allowsMultiline(linePrefix: string, restOfLine: string): boolean {
  if (!isClosingOnly(restOfLine)) return false;
  if (linePrefix.trim() === '') return true;
  if (!BLOCK_OPENER.test(linePrefix)) return false;
  // Inside `f(|)` a one-line argument list reads better as ghost text; `{|}` and `:` open blocks.
  return restOfLine.trim() === '' || !/\(\s*$/.test(linePrefix);
}

/** Keeps the first line for a single-line completion; trims trailing blank lines otherwise. */
export function shapeText(text: string, multiline: boolean): string {
  if (!multiline) {
    const nl = text.search(/\r?\n/);
    return (nl < 0 ? text : text.slice(0, nl)).replace(/\s+$/, '');
  }
  return text.replace(/(?:[ \t]*\r?\n)+[ \t]*$/, '').replace(/[ \t]+$/, '');
}

const squash = (s: string) => s.replace(/\s+/g, '');

/** True when inserting `text` would only repeat the text after the cursor (or insert nothing). */
export function repeatsSuffix(text: string, suffix: string): boolean {
  const t = squash(text);
  if (t === '') return true;
  return squash(suffix.slice(0, text.length * 2 + 64)).startsWith(t);
}

export interface EditContext {
  /** The current line up to the cursor. */
  linePrefix: string;
  /** The current line after the cursor (without the line break). */
  restOfLine: string;
  /** Everything after the cursor (at least the rest of this line and a few more). */
  suffix: string;
}

/** An edit relative to the cursor: replace [cursor − deleteBefore, cursor + deleteAfter) with `insertText`. */
export interface PlannedEdit {
  insertText: string;
  deleteBefore: number;
  deleteAfter: number;
  multiline: boolean;
}

/**
 * Plans the inline edit for a completion whose `text` replaces the `respelledChars` characters
 * before the cursor. Returns undefined when nothing useful is left to show.
 */
export function planInlineEdit(ctx: EditContext, text: string, respelledChars: number): PlannedEdit | undefined {
  const multiline = allowsMultiline(ctx.linePrefix, ctx.restOfLine);
  let insertText = text;
  let deleteBefore = Math.max(0, respelledChars);
  // Healing that re-spells the same characters is a plain insertion: cut them off so the ghost
  // text renders as an insertion. A real re-spelling keeps the replace range (only within the line).
  if (deleteBefore > 0) {
    const before = ctx.linePrefix.slice(-deleteBefore);
    if (before.length === deleteBefore && insertText.startsWith(before)) {
      insertText = insertText.slice(deleteBefore);
      deleteBefore = 0;
    } else if (before.length < deleteBefore) {
      return undefined; // re-spelling across a line break cannot be shown as ghost text
    }
  }
  insertText = shapeText(insertText, multiline);
  // What the edit adds beyond the characters it re-spells must not merely repeat the suffix.
  const replaced = ctx.linePrefix.slice(ctx.linePrefix.length - deleteBefore);
  if (insertText === replaced) return undefined;
  if (insertText.startsWith(replaced) && repeatsSuffix(insertText.slice(replaced.length), ctx.suffix)) return undefined;
  // Closing punctuation after the cursor that the completion itself ends with is replaced, so
  // accepting `"hi")` before `)` does not leave `"hi"))`.
  let deleteAfter = 0;
  const closers = ctx.restOfLine.replace(/\s+$/, '');
  if (closers !== '' && isClosingOnly(ctx.restOfLine)) {
    const firstLine = insertText.split(/\r?\n/, 1)[0];
    if (!multiline || !insertText.includes('\n')) {
      if (firstLine.endsWith(closers) && firstLine.length > closers.length) deleteAfter = closers.length;
    }
  }
  return { insertText, deleteBefore, deleteAfter, multiline };
}

/** One infill candidate ready to apply: replace [selectionStart − deleteBefore, selectionEnd) with `text`. */
export interface InfillCandidate {
  text: string;
  deleteBefore: number;
  /** Index of the engine result it came from. */
  index: number;
}

/**
 * Turns infill results into distinct candidates. Healing that re-spells the same characters
 * before the selection becomes a plain replacement of the selection; empty candidates and
 * candidates identical to the original selection are dropped.
 */
export function infillCandidates(results: readonly { text: string; respelledChars: number }[], prefix: string, original: string): InfillCandidate[] {
  const seen = new Set<string>();
  const out: InfillCandidate[] = [];
  results.forEach((r, index) => {
    let text = r.text;
    let deleteBefore = Math.max(0, Math.min(r.respelledChars, prefix.length));
    const before = prefix.slice(prefix.length - deleteBefore);
    if (deleteBefore > 0 && text.startsWith(before)) {
      text = text.slice(deleteBefore);
      deleteBefore = 0;
    }
    const key = `${deleteBefore}\u0000${text}`;
    if (text.trim() === '' || (deleteBefore === 0 && text === original) || seen.has(key)) return;
    seen.add(key);
    out.push({ text, deleteBefore, index });
  });
  return out;
}

const oneLine = (s: string, max = 60) => {
  const t = s.trim().replace(/\s*\r?\n\s*/g, ' ⏎ ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** A one-line, diff-like description of replacing `original` by `text` (for the QuickPick detail). */
export function describeChange(original: string, text: string): string {
  const lines = (s: string) => (s === '' ? 0 : s.split(/\r?\n/).length);
  return `−${lines(original)} +${lines(text)} lines   − ${oneLine(original) || '(empty)'}   + ${oneLine(text)}`;
}

/** The QuickPick label of a candidate: its first non-blank line. */
export function candidateLabel(text: string, max = 70): string {
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return oneLine(first, max);
}
