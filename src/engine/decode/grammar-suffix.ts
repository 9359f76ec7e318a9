// Suffix-aware termination (algorithms.md §3): where a fill-in-the-middle completion may end.
// Owns the choice, made once per request, of which check applies — `full` (prefix + completion +
// suffix is a complete program), `block` (… up to the end of the block around the cursor),
// `lines` (the next few lines stay viable) or `none` — and the check itself on a matcher.
//
// Why a choice: when the file is already broken outside the edited region, no completion makes
// the whole file parse, and a `full` check would never let the model stop. The choice is made
// on the original text only (never on the completion): each check is probed on the file with
// the cursor's line removed and with a few stand-in middles at the cursor (what closes the
// line's open strings and brackets, nothing, `0`, `pass`, an opening bracket, a block body…);
// the strongest check that one probe passes is used for every end decision of the request;
// when none passes, `full` (a failed guess proves nothing). The stand-ins are kept in the plan:
// a completion that finds no allowed end falls back to one the check accepts (grammar-select.ts). A suffix that is empty always gets
// `full` (some completion can always end there). `none` is left for requests without grammar.
import type { SuffixCheck } from '../api';
import type { Matcher, MatcherSnapshot } from '../interfaces';

/** Tunables of the fallback checks. */
export interface SuffixPolicyOptions {
  /** Lines of the suffix the `lines` fallback keeps viable (after the cursor's line). */
  lines: number;
  /** Stand-in middles tried when probing whether the file outside the cursor's line is sound. */
  probeMiddles: string[];
}

// Stand-ins that complete a typical half-typed line of Python/JavaScript: nothing, an
// expression, a statement, a closing or an opening bracket (a call whose arguments continue on
// the next lines). Probes stop at the first that passes; a failing probe usually dies within
// a few bytes of the suffix.
export const DEFAULT_SUFFIX_POLICY: SuffixPolicyOptions = {
  lines: 3,
  probeMiddles: ['', '0', 'pass', ')', '0)', ']', '}', '(', '[', '{', ':'],
};

/** How an end decision is checked: which bytes follow the completion and what must hold. */
export interface SuffixPlan {
  check: SuffixCheck;
  /** Bytes that must follow the completion. */
  bytes: Uint8Array;
  /** `accept`: the matcher accepts them as the end of a program; `viable`: they stay a viable prefix. */
  kind: 'accept' | 'viable';
  /**
   * Stand-in middles (bytes typed at the cursor) of the probes, the one that passed the chosen
   * check first. The last resort of a completion that found no allowed end: each is re-checked
   * at the end of the forced bytes before it is used (grammar-select.ts trimEnd).
   */
  standIns?: Uint8Array[];
}

/** The plan with no check (grammar off, or nothing can be checked). */
export const NO_SUFFIX_CHECK: SuffixPlan = { check: 'none', bytes: new Uint8Array(0), kind: 'viable' };

/**
 * Bytes of a long suffix checked for viability before the full acceptance pass: a necessary
 * condition that rejects most states within a few lines, where the full pass would read the
 * whole rest of the file.
 */
export const QUICK_SUFFIX_BYTES = 512;

/** Whether the completion may end at the matcher's current state under `plan`. State unchanged. */
export function suffixAccepted(matcher: Matcher, plan: SuffixPlan): boolean {
  if (plan.check === 'none') return true;
  if (plan.kind === 'accept') {
    if (plan.bytes.length > QUICK_SUFFIX_BYTES) {
      const snap = matcher.snapshot();
      const viable = matcher.consumeBytes(plan.bytes.subarray(0, QUICK_SUFFIX_BYTES));
      matcher.restore(snap);
      if (!viable) return false;
    }
    return matcher.acceptsSuffix(plan.bytes);
  }
  const snap = matcher.snapshot();
  try {
    return plan.bytes.length === 0 || matcher.consumeBytes(plan.bytes);
  } finally {
    matcher.restore(snap);
  }
}

const NL = 0x0a;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0c;
}

/** Indentation width (tabs to multiples of 8, as Python does) of the line starting at `start`. */
function indentAt(text: Uint8Array, start: number): { width: number; blank: boolean } {
  let w = 0;
  let i = start;
  for (; i < text.length && isSpace(text[i]!); i++) w = text[i] === 0x09 ? (Math.floor(w / 8) + 1) * 8 : w + 1;
  return { width: w, blank: i >= text.length || text[i] === NL || (text[i] === 0x0d && text[i + 1] === NL) };
}

/** Start of the line containing offset `at` (the byte after the previous newline). */
function lineStart(text: Uint8Array, at: number): number {
  let i = at;
  while (i > 0 && text[i - 1] !== NL) i--;
  return i;
}

/**
 * End of the block around the cursor inside `rest` (the text after the cursor's line): the start
 * of the first non-blank line indented less than `cursorIndent` — or, at the top level, the start
 * of the next non-blank line at column 0. That is where the enclosing block (or top-level
 * statement) ends in indentation-structured code; `rest.length` when the file ends first.
 */
export function blockEnd(rest: Uint8Array, cursorIndent: number): number {
  for (let s = 0; s < rest.length; ) {
    const { width, blank } = indentAt(rest, s);
    if (!blank && (cursorIndent === 0 ? width === 0 : width < cursorIndent)) return s;
    const nl = rest.indexOf(NL, s);
    if (nl < 0) break;
    s = nl + 1;
  }
  return rest.length;
}

/** Offset just after the `n`-th newline of `rest` (or its end). */
export function afterLines(rest: Uint8Array, n: number): number {
  let at = 0;
  for (let k = 0; k < n; k++) {
    const nl = rest.indexOf(NL, at);
    if (nl < 0) return rest.length;
    at = nl + 1;
  }
  return at;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Lexical state for closing what is open: the open string delimiter, the open brackets (their
 * closers, innermost last), and whether the text ends inside a comment or after a backslash in
 * a string. A heuristic, not a parse (Python/JavaScript-like: `#` comments, `\\` escapes,
 * single-quoted strings end at a line break, triple quotes span lines).
 */
export interface LexState {
  quote: string | null;
  stack: string[];
  comment: boolean;
  escape: boolean;
  /** Inside a triple-quoted string: how many of its quote characters end the text (0–2). */
  run?: number;
  /** Inside a single-quoted string that has no content yet (its quote may be the first of three). */
  fresh?: boolean;
  /** The text ends with an empty string `""`: one more quote would make it a triple quote. */
  pend?: string | null;
}

/**
 * Scans `text` from `from` (default: the start of a file), returning the state at its end.
 * Scanning in chunks (the prefix, then the completion) gives the state one pass would.
 * `unclosed`, when given, collects the closing brackets met while no bracket is open (the text
 * closes what came before it), in order.
 */
export function scanLex(text: string, from?: LexState, unclosed?: string[]): LexState {
  const stack = from ? [...from.stack] : [];
  let quote = from?.quote ?? null;
  let comment = from?.comment ?? false;
  let escape = from?.escape ?? false;
  let run = from?.run ?? 0;
  let fresh = from?.fresh ?? false;
  let pend = from?.pend ?? null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (pend !== null) {
      const q = pend;
      pend = null;
      if (ch === q) {
        // `""` then `"`: the opening of a triple-quoted string.
        quote = q.repeat(3);
        run = 0;
        continue;
      }
    }
    if (escape) {
      escape = false;
      run = 0;
      fresh = false;
      continue;
    }
    if (comment) {
      if (ch === '\n') comment = false;
      continue;
    }
    if (quote) {
      if (quote.length === 3 && ch === quote[0] && run + 1 === 3) {
        // The last quote character of a closing triple quote that began in an earlier chunk.
        quote = null;
        run = 0;
        continue;
      }
      if (ch === '\\') escape = true;
      else if (ch === '\n' && quote.length === 1) quote = null; // an unterminated string ends its line
      else if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        if (quote.length === 1 && fresh) pend = quote;
        quote = null;
        run = 0;
        continue;
      }
      fresh = false;
      run = quote && quote.length === 3 && ch === quote[0] ? run + 1 : 0;
      continue;
    }
    if (ch === '#') comment = true;
    else if (ch === '"' || ch === "'") {
      quote = text.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      i += quote.length - 1;
      fresh = quote.length === 1;
      run = 0;
    } else if (ch === '(' || ch === '[' || ch === '{') {
      stack.push(ch === '(' ? ')' : ch === '[' ? ']' : '}');
    } else if ((ch === ')' || ch === ']' || ch === '}') && stack[stack.length - 1] === ch) {
      stack.pop();
    } else if (unclosed && (ch === ')' || ch === ']' || ch === '}') && stack.length === 0) {
      unclosed.push(ch);
    }
  }
  return { quote, stack, comment, escape, run, fresh: quote !== null && quote.length === 1 && fresh, pend };
}

/**
 * The brackets a suffix expects open before it (their closers, outermost first: `x])` → `)`,
 * `]`), read lexically (scanLex); null where that cannot be told: the text before the suffix
 * (its state `before`) ends inside a string or a comment.
 */
export function bracketDemand(suffix: string, before: LexState): string[] | null {
  if (before.quote !== null || before.comment || before.escape) return null;
  const unclosed: string[] = [];
  scanLex(suffix, undefined, unclosed);
  return unclosed.reverse();
}

/**
 * Fewest brackets to open or close (one lexeme each) to go from the open brackets `stack`
 * (closers, outermost first, as in LexState) to a state the suffix's `demand` (bracketDemand)
 * can follow: the demand open innermost, and — `exact`, the suffix is the rest of the file —
 * nothing else. A lower bound on the lexemes any ending still needs, when its lexical reading is
 * right.
 */
export function bracketDistance(stack: readonly string[], demand: readonly string[], exact: boolean): number {
  let best = Infinity;
  // Keep the first k brackets of the stack, close the rest, open what the demand still lacks.
  for (let k = 0; k <= stack.length; k++) {
    if (k > 0 && exact && (k > demand.length || stack[k - 1] !== demand[k - 1])) break;
    let opened: number;
    if (exact) opened = demand.length - k;
    else {
      // The kept brackets may end with the demand's outermost ones; the others stay open outside.
      let j = Math.min(k, demand.length);
      while (j > 0 && !stack.slice(k - j, k).every((c, i) => c === demand[i])) j--;
      opened = demand.length - j;
    }
    best = Math.min(best, stack.length - k + opened);
  }
  return best;
}

/** What closes a scanned text: the open string delimiter, then the open brackets in reverse. */
export function closerOf(state: LexState): string {
  if (state.comment) return state.stack.length > 0 ? `\n${[...state.stack].reverse().join('')}` : '';
  const quote = state.quote ? state.quote.slice(state.quote.length === 3 ? (state.run ?? 0) : 0) : '';
  return quote + [...state.stack].reverse().join('');
}

/**
 * What closes the text lexically: the open string delimiter, then the open brackets in reverse
 * (`foo(a, "b` → `")`, a docstring → `"""`). A heuristic probe middle, not a parse: `#`
 * starts a comment, backslash escapes inside strings (scanLex).
 */
export function lineCloser(line: Uint8Array): string {
  return closerOf(scanLex(new TextDecoder().decode(line)));
}

/** Indentation of the first non-blank line after the cursor's line in `suffix`, or null. */
function nextLineIndent(suffix: Uint8Array): number | null {
  for (let nl = suffix.indexOf(NL); nl >= 0 && nl + 1 < suffix.length; nl = suffix.indexOf(NL, nl + 1)) {
    const { width, blank } = indentAt(suffix, nl + 1);
    if (!blank) return width;
  }
  return null;
}

/**
 * Closers of the innermost brackets only (`[[0, 1` → `]`, `],`): the real middle often closes
 * one level and the suffix continues the outer ones.
 */
function partialClosers(lex: LexState): string[] {
  const inner = [...lex.stack].reverse();
  const q = lex.quote ? lex.quote.slice(lex.quote.length === 3 ? (lex.run ?? 0) : 0) : '';
  const out: string[] = [];
  for (let k = 1; k < inner.length && k <= 3; k++) {
    const c = q + inner.slice(0, k).join('');
    out.push(c, `${c},`);
  }
  return out;
}

/** Statements a half-typed keyword at the start of a line may become (Python). */
const KEYWORD_STATEMENTS = ['try:', 'else:', 'finally:', 'except:', 'if 0:', 'elif 0:', 'while 0:', 'with 0:', 'for _ in 0:', 'def f():', 'class C:', 'return', 'pass', 'raise', 'break', 'continue', 'import os', 'from os import path', 'assert 0', 'del _', 'global _', 'yield'];

/**
 * Stand-ins that finish a keyword the cursor line has started (`    tr` → `y:`): the line is
 * indentation and a partial word only.
 */
function keywordStandIns(cursorLine: string): string[] {
  const m = /^[ \t]*([a-z]+)$/.exec(cursorLine);
  if (!m) return [];
  const w = m[1]!;
  return KEYWORD_STATEMENTS.filter((k) => k.length > w.length && k.startsWith(w)).map((k) => k.slice(w.length));
}

/**
 * Stand-ins that end an unfinished line in other common ways: a call or subscript closed, a
 * string closed and followed by a key's value opening (`'key': [`) or a separator.
 */
function extraStandIns(closer: string): string[] {
  const triple = closer.startsWith("'''") || closer.startsWith('"""');
  const q = triple ? closer.slice(0, 3) : closer.startsWith("'") || closer.startsWith('"') ? closer[0]! : '';
  const out = ['()', '(0)', '[0]', '0,', ' = 0', '0:', ': 0,', ': 0', '=0,', '=0)'];
  if (q) for (const t of [': [', ': (', ': {', ': 0,', ', ', ',', ')', '),', '])', ']', '):']) out.push(q + t);
  return out;
}

/** Result of preparing a grammar for one request. */
export interface PreparedPrefix {
  /** The matcher after the whole prefix, or null when the prefix itself is not viable. */
  matcher: Matcher | null;
  plan: SuffixPlan;
  /** Lexical state at the end of the prefix (for closing what a completion leaves open). */
  lex?: LexState;
}

/**
 * Feeds `prefix` to a fresh matcher and chooses the suffix check (see the module comment).
 * Cost: one pass over the prefix, plus at most eight passes over parts of the suffix.
 * @returns the matcher positioned after the prefix (null if the prefix is not a viable program
 *   prefix: the grammar cannot help this request) and the plan for every end decision.
 */
export function preparePrefix(
  matcher: Matcher,
  prefix: Uint8Array,
  suffix: Uint8Array,
  options: SuffixPolicyOptions = DEFAULT_SUFFIX_POLICY,
): PreparedPrefix {
  const ls = lineStart(prefix, prefix.length);
  if (!matcher.consumeBytes(prefix.subarray(0, ls))) return { matcher: null, plan: NO_SUFFIX_CHECK };
  const atLineStart: MatcherSnapshot = matcher.snapshot();
  const cursorLine = prefix.subarray(ls);
  // The text after the cursor's line, and the cursor line's indentation.
  const firstNl = suffix.indexOf(NL);
  const afterLine = firstNl < 0 ? new Uint8Array(0) : suffix.subarray(firstNl + 1);
  const indent = indentAt(prefix, ls).width;

  // Plans for the end decision, strongest first, each with its probe texts (from the line start).
  const bEnd = blockEnd(suffix.subarray(firstNl < 0 ? suffix.length : firstNl + 1), indent);
  const blockBytes = suffix.subarray(0, firstNl < 0 ? suffix.length : firstNl + 1 + bEnd);
  const linesBytes = suffix.subarray(0, firstNl < 0 ? suffix.length : firstNl + 1 + afterLines(afterLine, options.lines));
  // The whole prefix is scanned: a window of recent lines may start inside a docstring.
  const lex = scanLex(new TextDecoder().decode(prefix));
  const closer = closerOf(lex);
  const opensBlock = /:\s*(#[^\n]*)?$/.test(new TextDecoder().decode(cursorLine));
  const body = `\n${' '.repeat(indent + 4)}`;
  // A block header in place of the real middle: the next non-blank line of the suffix is
  // indented deeper than the cursor's line (a removed `if …:` / `def …:` line).
  const next = nextLineIndent(suffix);
  const deeper = next !== null && next > indent;
  const pad = deeper ? ' '.repeat(Math.max(indent, next - 4)) : '';
  // (`def f():` after a decorator, where no other statement may come; a bracket opened on a new
  // line, where the suffix goes on with a multi-line literal or call: `tokens = {` removed.)
  const header = deeper ? [`\n${pad}if 0:`, `\n${pad}def f():`, '():', '0:', ...['{', '[', '('].map((b) => `\n${pad}_ = ${b}`)] : [];
  // A block body at the indentation the suffix continues with (a docstring under the cursor).
  const nextBody = opensBlock && deeper ? ['pass', '"""', "'''"].map((b) => `\n${' '.repeat(next)}${b}`) : [];
  const stand = [
    ...(closer ? [closer, `0${closer}`, `${closer}:`, `${closer},`, `0${closer},`] : []),
    ...options.probeMiddles,
    ...(opensBlock ? [`${body}pass`, `${body}"""`, `${body}'''`] : []),
    ...nextBody,
    ...header,
    ...keywordStandIns(new TextDecoder().decode(cursorLine)),
    ...partialClosers(lex),
    // A `for` header cut before its `in`.
    ...(/^\s*(async\s+)?for\b/.test(new TextDecoder().decode(cursorLine)) ? [`${closer} in 0:`, ` in 0:`] : []),
    ...extraStandIns(closer),
    // `r"|""`: the cursor is inside the opening of a triple-quoted string.
    ...(/^["']$/.test(closer) && new TextDecoder().decode(cursorLine).endsWith(closer) ? [closer + closer] : []),
  ];
  // After a comment on the cursor's line, a stand-in starts on the next line.
  const standIns = [...new Set(lex.comment ? stand.flatMap((m) => [m, `\n${m}`]) : stand)].map((m) => new TextEncoder().encode(m));
  const middles = standIns.map((m) => concat(cursorLine, m));
  const dropped = afterLine;
  const probes = (tail: Uint8Array, droppedTail: Uint8Array): Uint8Array[] => [
    droppedTail,
    ...middles.map((m) => concat(m, tail)),
  ];
  const candidates: { plan: SuffixPlan; probes: Uint8Array[] }[] = [
    { plan: { check: 'full', bytes: suffix, kind: 'accept' }, probes: probes(suffix, dropped) },
    {
      plan: { check: 'block', bytes: blockBytes, kind: 'accept' },
      probes: probes(blockBytes, dropped.subarray(0, blockEnd(dropped, indent))),
    },
    {
      plan: { check: 'lines', bytes: linesBytes, kind: 'viable' },
      probes: probes(linesBytes, dropped.subarray(0, afterLines(dropped, options.lines))),
    },
  ];
  // No probe passing proves nothing (the middle may be more than a stand-in: a new block
  // header, a long call): the full check is the default, and a weaker one is chosen only on
  // evidence — its probe passes where the full one does not.
  let plan: SuffixPlan = candidates[0]!.plan;
  let passed = -1;
  if (suffix.length === 0) candidates.splice(1);
  for (const c of candidates) {
    if (suffix.length === 0) break;
    const ok = c.probes.findIndex((p) => {
      matcher.restore(atLineStart);
      return suffixAccepted(matcher, { ...c.plan, bytes: p });
    });
    if (ok >= 0) {
      plan = c.plan;
      passed = ok - 1; // probes[0] drops the cursor's line: it is no middle
      break;
    }
  }
  // The stand-in that passed first, then the others (trimEnd re-checks each before use).
  plan = { ...plan, standIns: passed >= 0 ? [standIns[passed]!, ...standIns.filter((_, i) => i !== passed)] : standIns };
  matcher.restore(atLineStart);
  if (!matcher.consumeBytes(cursorLine)) return { matcher: null, plan: NO_SUFFIX_CHECK };
  return { matcher, plan, lex };
}
