// Emulation of tree-sitter-python's external scanner, byte by byte
// (reference: node_modules/tree-sitter-python/src/scanner.c, v0.25). Tokens: `_newline`,
// `_indent`, `_dedent` (zero-width, decided by the indentation of the next significant line; a tab
// counts 8 columns; no newline/dedent inside brackets), `string_start` / `_string_content` /
// `escape_interpolation` / `string_end` with a delimiter stack (f-, raw, bytes, triple-quoted).
// `comment` is an ordinary lexeme in grammar.json. The engine protocol is in
// src/engine/grammar/scanner.ts; every state here is plain JSON.
import type { TsGrammar } from '../../src/engine/grammar/passes/read';
import { keepExt, type ScannerHooks, type ScannerModule, type ScannerVerdict, type StepOrAsk, type StepResult } from '../../src/engine/grammar/scanner';

// Indices in grammar.json `externals`.
const NEWLINE = 0, INDENT = 1, DEDENT = 2, STRING_START = 3, STRING_CONTENT = 4, ESCAPE_INTERPOLATION = 5,
  STRING_END = 6, CLOSE_BRACKET = 8, CLOSE_PAREN = 9, CLOSE_BRACE = 10, EXCEPT = 11;
// Delimiter flags (scanner.c `Flags`).
const SINGLE = 1, DOUBLE = 2, BACK = 4, RAW = 8, FORMAT = 16, TRIPLE = 32, BYTES = 64;

/** Persistent state: indent stack, delimiter stack, inside an f-string. */
export interface PyExt { i: number[]; d: number[]; f: number }

/**
 * A run: `m` is the mode (B begin, L layout, C string content, E escaped brace, S string start).
 * Only B and L read the valid externals. No run carries the persistent state: B reads the
 * innermost delimiter's flags (the run key is the delimiter stack), L asks for the indent stack
 * only where a line's indentation decides (see resolveLayout), and verdicts are edits of the
 * state the run began in. So a statement, a comment or a string is one run whatever the nesting
 * around it.
 */
interface PyRun {
  m: 'B' | 'L' | 'C' | 'E' | 'S';
  /** Valid externals (bit i = external i): B and L. */
  v?: number;
  /** B: the innermost delimiter's flags (absent: none). */
  dt?: number;
  // layout
  eol?: number; ind?: number; fci?: number; sub?: number;
  // string content (t: the innermost delimiter's flags) / start
  has?: number; t?: number; fl?: number; br?: number;
}

const ch = (s: string) => s.charCodeAt(0);
const NL = 10, CR = 13, FF = 12, TAB = 9, SP = 32, HASH = ch('#'), BSL = ch('\\'), LBRACE = ch('{'), RBRACE = ch('}');
const DQ = ch('"'), SQ = ch("'"), BQ = ch('`');

function endChar(flags: number): number {
  return flags & SINGLE ? SQ : flags & DOUBLE ? DQ : flags & BACK ? BQ : 0;
}
const valid = (r: { v?: number }, i: number) => ((r.v! >> i) & 1) === 1;
const verdict = (token: number, ext: ScannerVerdict<PyExt>['ext'], refeed: number[], refeedRun = false): { verdict: ScannerVerdict<PyExt> } => ({ verdict: { token, ext, refeed, refeedRun } });
/** The edit of a string's end: its delimiter popped. */
const popDelimiter = (e: PyExt): PyExt => ({ ...e, d: e.d.slice(0, -1), f: 0 });
/**
 * The edit of a string's start: delimiter `flags` pushed. One function per flags: the engine
 * interns verdicts by their edit, so a fresh closure per step would defeat it.
 */
const pushers = new Map<number, (e: PyExt) => PyExt>();
const pushDelimiter = (flags: number): ((e: PyExt) => PyExt) => {
  let f = pushers.get(flags);
  if (!f) pushers.set(flags, (f = (e: PyExt): PyExt => ({ ...e, d: [...e.d, flags], f: flags & FORMAT ? 1 : 0 })));
  return f;
};

/** The innermost delimiter's flags (0: none), all that `begin` reads of the state. */
const innermost = (ext: PyExt): number => (ext.d.length ? ext.d[ext.d.length - 1] : 0);

function begin(ext: PyExt, isValid: (i: number) => boolean): PyRun {
  let v = 0;
  for (let i = 0; i <= EXCEPT; i++) if (isValid(i)) v |= 1 << i;
  const dt = innermost(ext);
  return dt ? { m: 'B', v, dt } : { m: 'B', v };
}

/** A layout decision at the end of a line's indentation, asked of the indent stack (see resolveLayout). */
interface LayoutAsk { v: number; ind: number; fci: number; c: number }

/** Zero-width layout decision at the first significant character (`c`, or -1 at end of input). */
function layoutDecision(r: PyRun, c: number): StepOrAsk<PyExt, PyRun> {
  const eol = c < 0 ? 1 : r.eol ?? 0;
  const fci = r.fci ?? -1;
  if (eol) return { ask: { v: r.v!, ind: c < 0 ? 0 : r.ind ?? 0, fci, c } satisfies LayoutAsk };
  return afterLayout(r.v!, fci, c);
}

/**
 * The decision of `layoutDecision` at the end of a line: by the indent stack of the state the run
 * began in. Layout tokens are zero-width at the run's start: everything the run read is read again.
 */
function resolveLayout(e: PyExt, a: LayoutAsk): StepResult<PyExt, PyRun> {
  const { ind, fci, c } = a;
  const refeed = c >= 0 ? [c] : [];
  const cur = e.i[e.i.length - 1];
  if (valid(a, INDENT) && ind > cur) return verdict(INDENT, { ...e, i: [...e.i, ind] }, refeed, true);
  const quote = c === DQ || c === SQ || c === BQ;
  const withinBrackets = valid(a, CLOSE_BRACE) || valid(a, CLOSE_PAREN) || valid(a, CLOSE_BRACKET);
  if ((valid(a, DEDENT) || (!valid(a, NEWLINE) && !(valid(a, STRING_START) && quote) && !withinBrackets)) &&
      ind < cur && !e.f && fci < cur) {
    return verdict(DEDENT, { ...e, i: e.i.slice(0, -1) }, refeed, true);
  }
  if (valid(a, NEWLINE)) return verdict(NEWLINE, keepExt, refeed, true);
  return afterLayout(a.v, fci, c);
}

/**
 * No layout token: after the whitespace (and no comment line), the same scanner call looks for a
 * string start (the engine does not call the scanner again after skipped whitespace, as
 * tree-sitter does not).
 */
function afterLayout(v: number, fci: number, c: number): StepResult<PyExt, PyRun> {
  if (fci === -1 && c >= 0 && valid({ v }, STRING_START)) return startStep({ m: 'S' }, c);
  return null;
}

function isPrefixLetter(c: number): boolean {
  return 'fFtTrRbBuU'.includes(String.fromCharCode(c));
}

function layoutStep(r: PyRun, c: number): StepOrAsk<PyExt, PyRun> {
  const sub = r.sub ?? 0;
  if (sub === 1) { // inside a comment line: skip to the newline (consumed)
    return { run: { ...r, sub: c === NL ? 0 : 1, ind: c === NL ? 0 : r.ind } };
  }
  if (sub === 2) { // after a backslash
    if (c === CR) return { run: { ...r, sub: 3 } };
    if (c === NL) return { run: { ...r, sub: 0 } };
    return null;
  }
  if (sub === 3) { // after backslash + CR
    if (c === NL) return { run: { ...r, sub: 0 } };
    return null;
  }
  const lay = valid(r, INDENT) || valid(r, DEDENT) || valid(r, NEWLINE) || valid(r, EXCEPT);
  if (c === NL) return { run: { ...r, eol: 1, ind: 0 } };
  if (c === SP) return { run: { ...r, ind: (r.ind ?? 0) + 1 } };
  if (c === CR || c === FF) return { run: { ...r, ind: 0 } };
  if (c === TAB) return { run: { ...r, ind: (r.ind ?? 0) + 8 } };
  if (c === HASH && lay) {
    if (!r.eol) return null; // a comment after code on the same line: no layout token
    // (the indentation is measured afresh after the comment's newline: not kept, so comments
    // at one column are one run)
    return { run: { ...r, sub: 1, ind: 0, fci: (r.fci ?? -1) === -1 ? (r.ind ?? 0) : r.fci } };
  }
  if (c === BSL) return { run: { ...r, sub: 2 } };
  return layoutDecision(r, c);
}

function contentStep(r: PyRun, c: number): StepResult<PyExt, PyRun> {
  const top = r.t!;
  const end = endChar(top);
  const has = r.has ?? 0;
  const sub = r.sub ?? 0;
  switch (sub) {
    case 10: // raw: after a backslash
      if (c === end || c === BSL) return { run: { ...r, sub: 11 } };
      return contentStep({ ...r, sub: 11 }, c);
    case 11: // raw: maybe a line continuation
      if (c === CR) return { run: { ...r, sub: 12 } };
      if (c === NL) return { run: { ...r, sub: 0 } };
      return contentStep({ ...r, sub: 0 }, c);
    case 12:
      if (c === NL) return { run: { ...r, sub: 0 } };
      return contentStep({ ...r, sub: 0 }, c);
    case 20: // bytes: after a backslash
      if (c === ch('N') || c === ch('u') || c === ch('U')) return { run: { ...r, sub: 21 } };
      return has ? verdict(STRING_CONTENT, keepExt, [BSL, c]) : null;
    case 21: // bytes: the character after \N, \u, \U is content too
      return { run: { ...r, sub: 0, has: 1 } };
    case 30: // triple: one closing quote seen
      if (c === end) return { run: { ...r, sub: 31 } };
      return verdict(STRING_CONTENT, keepExt, [c]);
    case 31: // triple: two closing quotes seen
      if (c === end) return has ? verdict(STRING_CONTENT, keepExt, [end, end, c]) : verdict(STRING_END, popDelimiter, []);
      return verdict(STRING_CONTENT, keepExt, [c]);
  }
  if ((c === LBRACE || c === RBRACE) && top & FORMAT) return has ? verdict(STRING_CONTENT, keepExt, [c]) : null;
  if (c === BSL) {
    if (top & RAW) return { run: { ...r, sub: 10 } };
    if (top & BYTES) return { run: { ...r, sub: 20 } };
    return has ? verdict(STRING_CONTENT, keepExt, [c]) : null;
  }
  if (c === end) {
    if (top & TRIPLE) return { run: { ...r, sub: 30 } };
    return has ? verdict(STRING_CONTENT, keepExt, [c]) : verdict(STRING_END, popDelimiter, []);
  }
  if (c === NL && has && !(top & TRIPLE)) return null;
  return { run: { ...r, sub: 0, has: 1 } };
}

function startStep(r: PyRun, c: number): StepResult<PyExt, PyRun> {
  const fl = r.fl ?? 0;
  const sub = r.sub ?? 0;
  if (sub === 1) { // one quote seen
    const end = endChar(fl);
    if (c === end) return { run: { ...r, sub: 2 } };
    return verdict(STRING_START, pushDelimiter(fl), [c]);
  }
  if (sub === 2) { // two quotes seen: a third makes a triple-quoted string
    const end = endChar(fl);
    if (c === end) return verdict(STRING_START, pushDelimiter(fl | TRIPLE), []);
    return verdict(STRING_START, pushDelimiter(fl), [end, c]);
  }
  if (c === ch('f') || c === ch('F') || c === ch('t') || c === ch('T')) return { run: { ...r, fl: fl | FORMAT } };
  if (c === ch('r') || c === ch('R')) return { run: { ...r, fl: fl | RAW } };
  if (c === ch('b') || c === ch('B')) return { run: { ...r, fl: fl | BYTES } };
  if (c === ch('u') || c === ch('U')) return { run: { ...r } };
  if (c === BQ) return verdict(STRING_START, pushDelimiter(fl | BACK), []);
  if (c === SQ) return { run: { ...r, fl: fl | SINGLE, sub: 1 } };
  if (c === DQ) return { run: { ...r, fl: fl | DOUBLE, sub: 1 } };
  return null;
}

function step(r: PyRun, c: number): StepOrAsk<PyExt, PyRun> {
  switch (r.m) {
    case 'B': {
      const dt = r.dt ?? 0;
      if (valid(r, ESCAPE_INTERPOLATION) && dt && (c === LBRACE || c === RBRACE) && dt & FORMAT) {
        return { run: { m: 'E', br: c } };
      }
      if (valid(r, STRING_CONTENT) && dt) return contentStep({ m: 'C', t: dt }, c);
      if (c === NL || c === SP || c === CR || c === FF || c === TAB || c === BSL || c === HASH) {
        return layoutStep({ m: 'L', v: r.v }, c);
      }
      if (valid(r, STRING_START) && (isPrefixLetter(c) || c === DQ || c === SQ || c === BQ)) {
        return startStep({ m: 'S' }, c);
      }
      return null;
    }
    case 'E':
      return c === r.br ? verdict(ESCAPE_INTERPOLATION, keepExt, []) : null;
    case 'C': return contentStep(r, c);
    case 'L': return layoutStep(r, c);
    case 'S': return startStep(r, c);
  }
}

/** Bytes after which the layout run measures a line's indentation afresh. */
const isLineStart = (c: number): boolean => c === NL || c === CR || c === FF;
/** Bytes of a line key before the line's indentation (blank and comment lines) at most. */
const LINE_KEY_BYTES = 64;

/**
 * The key of a layout run in a line's indentation (see ScannerHooks.lineKey): on this line a
 * decision compares the column only with the indent levels above it and the highest one at or
 * below it (dedents pop from the top; what is below is never looked at), and a tab counts 8
 * wherever it stands, so those levels relative to the column decide, with the bytes before the
 * indentation as they are (a comment line there sets `fci`, also kept relative).
 */
function lineKey(e: PyExt, r: PyRun, bytes: readonly number[]): string | null {
  if (r.m !== 'L' || !r.eol || (r.sub ?? 0) !== 0) return null;
  const c = r.ind ?? 0;
  let last = -1;
  for (let i = 0; i < bytes.length; i++) if (isLineStart(bytes[i])) last = i;
  if (last < 0 || last + 1 > LINE_KEY_BYTES) return null;
  let width = 0;
  for (let i = last + 1; i < bytes.length; i++) {
    if (bytes[i] === SP) width += 1;
    else if (bytes[i] === TAB) width += 8;
    else return null;
  }
  if (width !== c) return null;
  let k = e.i.length - 1;
  while (k > 0 && e.i[k] > c) k--;
  const fci = r.fci ?? -1;
  // (blank lines before: read again, they leave a run at a line's start whatever their number)
  const before = bytes.slice(0, last + 1);
  const blank = before.includes(NL) && before.every((b) => isLineStart(b) || b === SP || b === TAB);
  return `${r.v}|${fci === -1 ? 'n' : fci - c}|${e.d.join(',')}|${e.f}|${e.i.slice(k).map((x) => x - c).join(',')}|${blank ? 'blank' : before.join(',')}`;
}

/** Whether a token's bytes make no layout decision past the line they begin on (see ScannerHooks.sameLine). */
function sameLine(bytes: Uint8Array): boolean {
  let later = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (isLineStart(b)) later = true;
    else if (later && b !== SP && b !== TAB) return false;
  }
  return true;
}

function eof(r: PyRun, ext: PyExt): ScannerVerdict<PyExt> | null {
  let res: StepOrAsk<PyExt, PyRun> = null;
  if (r.m === 'B' || r.m === 'L') {
    res = layoutDecision(r, -1);
    if (res && 'ask' in res) res = resolveLayout(ext, res.ask as LayoutAsk);
  }
  else if (r.m === 'S' && r.sub === 1) res = verdict(STRING_START, pushDelimiter(r.fl ?? 0), []);
  else if (r.m === 'S' && r.sub === 2) res = verdict(STRING_START, pushDelimiter(r.fl ?? 0), [endChar(r.fl ?? 0)]);
  return res && 'verdict' in res ? res.verdict : null;
}

export const pythonHooks: ScannerHooks<PyExt, PyRun> = {
  initial: { i: [0], d: [], f: 0 },
  begin,
  step,
  eof,
  // (the delimiter stack, not only its top: a string's end pops it, and the key after is known)
  runKey: (ext) => ext.d.join(','),
  resolve: resolveLayout,
  lineKey,
  sameLine,
};

/**
 * tree-sitter's table reads `lambda x:` as the lambda's colon, never as a type annotation, so a
 * lambda parameter is never typed (`lambda s: int: 0` is an error there); the grammar's
 * `lambda_parameters` reuses `_parameters`, which allows typed ones.
 */
function resolve(g: TsGrammar): void {
  const param = g.rules.parameter;
  if (!param || param.type !== 'CHOICE' || !g.rules.lambda_parameters) return;
  const untyped = (param.members ?? []).filter((m) => !(m.type === 'SYMBOL' && (m.name === 'typed_parameter' || m.name === 'typed_default_parameter')));
  g.rules._lambda_parameter = { type: 'CHOICE', members: untyped };
  const one = { type: 'SYMBOL', name: '_lambda_parameter' };
  g.rules.lambda_parameters = {
    type: 'SEQ',
    members: [one, { type: 'REPEAT', content: { type: 'SEQ', members: [{ type: 'STRING', value: ',' }, one] } }, { type: 'CHOICE', members: [{ type: 'STRING', value: ',' }, { type: 'BLANK' }] }],
  };
}

export const pythonScanner: ScannerModule = {
  language: 'python',
  version: '5',
  hooks: pythonHooks,
  resolve,
  externalExamples: { _newline: '\n', string_start: '"', string_end: '"' },
};
