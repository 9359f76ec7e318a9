// Emulation of tree-sitter-javascript's external scanner, byte by byte (reference:
// node_modules/tree-sitter-javascript/src/scanner.c v0.25; the TypeScript variant follows
// node_modules/tree-sitter-typescript/common/scanner.h v0.23). The scanner is stateless; its tokens:
// `_automatic_semicolon` (zero-width, decided by what follows: a newline, `}`, end of input, and the
// first character of the next line), `_template_chars`, `_ternary_qmark` (`?` not starting `??` or
// `?.` unless `?.5`), `jsx_text`. `regex_pattern`, `escape_sequence`, `||` and `comment` are
// ordinary lexemes of grammar.json (the scanner only checks their validity); `html_comment`
// (`<!--` to end of line) is a plain lexeme here. Only ASCII counts as whitespace/letters.
// The engine protocol is in src/engine/grammar/scanner.ts; every state here is plain JSON.
import type { ScannerHooks, ScannerModule, ScannerVerdict, StepResult } from '../../src/engine/grammar/scanner';

// Indices in grammar.json `externals` (the same for both languages; TypeScript adds 8 and 9).
const ASI = 0, TEMPLATE_CHARS = 1, TERNARY_QMARK = 2, LOGICAL_OR = 4, JSX_TEXT = 7, FUNCTION_SIGNATURE_ASI = 8;

type Variant = 'javascript' | 'typescript';

/** A run. m: T template, J jsx text, A automatic semicolon, Q ternary `?`. */
interface JsRun {
  m: 'T' | 'J' | 'A' | 'Q';
  v: number;
  ts: number;
  /** T/J: has content / saw text; J: at newline. */
  h?: number; nl?: number;
  /** A: phase (0 before the newline, 1 after), comment scanner sub-state, scanned comment, block newline, decision sub-state. */
  ph?: number; cs?: number; sc?: number; bn?: number; d?: string; k?: number;
  /** Q / T: sub-state. */
  s?: number;
  /** Q (TypeScript): whitespace read after the `?` (read again after the token). */
  w?: number[];
}

const c0 = (s: string) => s.charCodeAt(0);
const NL = 10, SLASH = c0('/'), STAR = c0('*'), BACKTICK = c0('`'), DOLLAR = c0('$'), LBRACE = c0('{'), BSL = c0('\\');
const QMARK = c0('?'), DOT = c0('.'), RBRACE = c0('}');
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c >= 0x80;
const valid = (r: JsRun, i: number) => ((r.v >> i) & 1) === 1;

function emit(token: number, refeed: number[], zeroWidth = false): { verdict: ScannerVerdict<null> } {
  return { verdict: { token, ext: null, refeed, refeedRun: zeroWidth } };
}
/** The automatic semicolon: zero-width, so every byte the run read is read again. */
function asi(r: JsRun, refeed: number[]): { verdict: ScannerVerdict<null> } {
  const token = r.ts && !valid(r, ASI) ? FUNCTION_SIGNATURE_ASI : ASI;
  return emit(token, refeed, true);
}
/** No semicolon; a `?` right there may still be a ternary question mark. */
function noAsi(r: JsRun, c: number): StepResult<null, JsRun> {
  if (c === QMARK && !r.sc && valid(r, TERNARY_QMARK)) return { run: { m: 'Q', v: r.v, ts: r.ts, s: 1 } };
  return null;
}

function templateStep(r: JsRun, c: number): StepResult<null, JsRun> {
  if (r.s === 1) { // after `$`
    if (c === LBRACE) return r.h ? emit(TEMPLATE_CHARS, [DOLLAR, c]) : null;
    return templateStep({ ...r, s: 0, h: 1 }, c);
  }
  if (c === BACKTICK || c === BSL) return r.h ? emit(TEMPLATE_CHARS, [c]) : null;
  if (c === DOLLAR) return { run: { ...r, s: 1 } };
  return { run: { ...r, h: 1 } };
}

function jsxStep(r: JsRun, c: number): StepResult<null, JsRun> {
  if (c === c0('<') || c === c0('>') || c === LBRACE || c === RBRACE || c === c0('&')) return r.h ? emit(JSX_TEXT, [c]) : null;
  let h = r.h ?? 0, nl = r.nl ?? 0;
  if (c === NL) nl = 1;
  else { nl = nl && isSpace(c) ? 1 : 0; if (!nl) h = 1; }
  return { run: { ...r, h, nl } };
}

const COLON = c0(':'), RPAREN = c0(')'), COMMA = c0(',');

/**
 * scan_ternary_qmark. TypeScript's variant also refuses `?.` and, after optional whitespace,
 * `?:` `?)` `?,` (optional parameters and properties), and looks for `.digit` only after the
 * whitespace; the token ends right after the `?`, so that whitespace is read again.
 */
function qmarkStep(r: JsRun, c: number): StepResult<null, JsRun> {
  const s = r.s ?? 0;
  if (s === 0) return isSpace(c) ? { run: r } : c === QMARK ? { run: { ...r, s: 1 } } : null;
  if (!r.ts) {
    if (s === 1) return c === QMARK ? null : c === DOT ? { run: { ...r, s: 2 } } : emit(TERNARY_QMARK, [c]);
    return isDigit(c) ? emit(TERNARY_QMARK, [DOT, c]) : null;
  }
  const w = r.w ?? [];
  if (s === 1 && (c === QMARK || c === DOT)) return null;
  if (s === 1 || s === 3) {
    if (isSpace(c)) return { run: { ...r, s: 3, w: [...w, c] } };
    if (c === COLON || c === RPAREN || c === COMMA) return null;
    if (c === DOT) return { run: { ...r, s: 4 } };
    return emit(TERNARY_QMARK, [...w, c]);
  }
  return isDigit(c) ? emit(TERNARY_QMARK, [...w, DOT, c]) : null; // s === 4: after `? .`
}

/**
 * Comment scanning shared by both phases (scan_whitespace_and_comments). Returns the next run, or
 * a result with the lookahead character still to be examined: 'reject' | 'accept' | 'nonewline'.
 */
function commentStep(r: JsRun, c: number, consume: boolean): { run: JsRun } | { res: 'reject' | 'accept' | 'nonewline' } {
  switch (r.cs) {
    case 1: // after `/`
      if (c === SLASH) return { run: { ...r, cs: 2 } };
      if (c === STAR) return { run: { ...r, cs: 3 } };
      return { res: 'reject' };
    case 2: // line comment
      if (c === NL) return { run: { ...r, cs: 6, sc: 1 } };
      return { run: r };
    case 3: // block comment
      if (c === STAR) return { run: { ...r, cs: 4 } };
      if (c === NL) return { run: { ...r, bn: 1 } };
      return { run: r };
    case 4: // block comment after `*`
      if (c === SLASH) return { run: { ...r, cs: consume || r.ts ? 6 : 5, sc: r.ts ? r.sc : 1 } };
      if (c === STAR) return { run: r };
      return { run: { ...r, cs: 3, bn: c === NL ? 1 : r.bn } };
    case 5: // JavaScript, deciding mode: just closed a block comment
      if (c === SLASH) return { run: { ...r, cs: 1 } };
      return { res: r.bn ? 'accept' : 'nonewline' };
    default: // 6: skipping whitespace between comments
      if (isSpace(c)) return { run: r };
      if (c === SLASH) return { run: { ...r, cs: 1 } };
      return { res: 'accept' };
  }
}

function asiDecide(r: JsRun, c: number): StepResult<null, JsRun> {
  // after the newline, whitespace and comments: the first character decides
  if (r.ts) {
    if ('`,.;*%><=?^|&/:'.includes(String.fromCharCode(c))) return noAsi(r, c);
    if (c === LBRACE && valid(r, FUNCTION_SIGNATURE_ASI)) return null;
    if ((c === c0('(') || c === c0('[')) && valid(r, LOGICAL_OR)) return null;
  } else if ('`,:;*%><=[(?^|&/'.includes(String.fromCharCode(c))) return noAsi(r, c);
  if (!r.ts && c === DOT) return { run: { ...r, d: 'dot' } };
  if (c === c0('+')) return { run: { ...r, d: 'plus' } };
  if (c === c0('-')) return { run: { ...r, d: 'minus' } };
  if (c === c0('!')) return { run: { ...r, d: 'bang' } };
  if (c === c0('i')) return { run: { ...r, d: 'i' } };
  return asi(r, [c]);
}

function asiStep(r: JsRun, c: number): StepResult<null, JsRun> {
  if (r.d) {
    switch (r.d) {
      case 'dot': return isDigit(c) ? asi(r, [c]) : null;
      case 'plus': return c === c0('+') ? asi(r, [c]) : null;
      case 'minus': return c === c0('-') ? asi(r, [c]) : null;
      case 'bang': return c !== c0('=') ? asi(r, [c]) : null;
      case 'i': return c !== c0('n') ? asi(r, [c]) : { run: { ...r, d: 'in' } };
      case 'in': return !isAlpha(c) ? null : c0('s') === c ? { run: { ...r, d: 'ins', k: 1 } } : asi(r, [c]);
      case 'ins': {
        const k = r.k ?? 0;
        if (k < 8) return c === c0('stanceof'[k]) ? { run: { ...r, k: k + 1 } } : asi(r, [c]);
        return !isAlpha(c) ? null : asi(r, [c]);
      }
      case 'rb': // TypeScript: after `}` and whitespace
        if (isSpace(c)) return { run: r };
        if (c === c0(':')) return valid(r, LOGICAL_OR) ? asi(r, [c]) : null;
        return asi(r, [c]);
    }
  }
  if (r.cs) {
    const x = commentStep(r, c, r.ph === 1);
    if ('run' in x) return { run: x.run };
    if (x.res === 'reject') return null;
    const back: JsRun = { ...r, cs: 0 };
    if (r.ph === 1) return asiDecide(back, c);
    if (x.res === 'accept' && !valid(r, LOGICAL_OR) && c !== c0(',') && c !== c0('=')) return asi(r, [c]);
    return asiStep(back, c);
  }
  if (r.ph === 1) {
    if (isSpace(c)) return { run: r };
    if (c === SLASH) return { run: { ...r, cs: 1 } };
    return asiDecide(r, c);
  }
  // phase 0: before the newline
  if (c === RBRACE) return r.ts ? { run: { ...r, d: 'rb' } } : asi(r, [c]);
  if (!r.ts && c === SLASH) return { run: { ...r, cs: 1 } };
  if (c === NL) return { run: { ...r, ph: 1 } };
  if (!isSpace(c)) return noAsi(r, c);
  return { run: r };
}

function makeHooks(variant: Variant): ScannerHooks<null, JsRun> {
  const ts = variant === 'typescript' ? 1 : 0;
  return {
    initial: null,
    begin(_ext, isValid) {
      let v = 0;
      for (let i = 0; i <= 9; i++) if (isValid(i)) v |= 1 << i;
      const r: JsRun = { m: 'A', v, ts };
      if (valid(r, TEMPLATE_CHARS)) return valid(r, ASI) ? null : { m: 'T', v, ts, h: 0, s: 0 };
      if (valid(r, JSX_TEXT)) return { m: 'J', v, ts };
      if (valid(r, ASI) || (ts && valid(r, FUNCTION_SIGNATURE_ASI))) return { m: 'A', v, ts, ph: 0 };
      if (valid(r, TERNARY_QMARK)) return { m: 'Q', v, ts, s: 0 };
      return null;
    },
    step(r, c) {
      switch (r.m) {
        case 'T': return templateStep(r, c);
        case 'J': return jsxStep(r, c);
        case 'Q': return qmarkStep(r, c);
        default: return asiStep(r, c);
      }
    },
    runBytesKey(bytes) {
      // Spaces, tabs and newlines only: every run here reads them alike whatever their number
      // (the semicolon run by whether a newline came, JSX text also by whether a space came
      // before it, template text as text), and so do the lexer's whitespace extras.
      for (const b of bytes) if (b !== 32 && b !== 9 && b !== NL) return null;
      const nl = bytes.indexOf(NL);
      return nl < 0 ? 's' : nl > 0 ? 'sn' : 'n';
    },
    eof(r) {
      if (r.m === 'A') {
        if (r.d === 'rb') return asi(r, []).verdict;
        if (r.d || (r.cs && r.cs !== 2 && r.cs !== 6)) return null;
        return asi(r, []).verdict; // end of input (also right after a line comment)
      }
      if (r.m === 'Q' && (r.s === 1 || r.s === 3)) return emit(TERNARY_QMARK, r.w ?? []).verdict;
      if (r.m === 'J' && r.h) return emit(JSX_TEXT, []).verdict;
      return null;
    },
  };
}

export const javascriptHooks = makeHooks('javascript');
export const typescriptHooks = makeHooks('typescript');

export const javascriptScanner: ScannerModule = {
  language: 'javascript',
  version: '2',
  externalLexemes: {
    html_comment: '<!--[^\\r\\n\\u2028\\u2029]*',
  },
  hooks: javascriptHooks,
};
