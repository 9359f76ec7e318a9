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
// when none passes, `full` (a failed guess proves nothing). A suffix that is empty always gets
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

/** Lines of the prefix scanned for open strings and brackets (see lineCloser). */
export const CLOSER_WINDOW_LINES = 60;

/** The last `n` lines of `text` (from a line start). */
export function recentLines(text: Uint8Array, n: number): Uint8Array {
  let at = text.length;
  for (let k = 0; k < n && at > 0; k++) {
    const nl = text.lastIndexOf(NL, at - 1);
    at = nl < 0 ? 0 : nl;
  }
  return text.subarray(at === 0 ? 0 : at + 1);
}

/**
 * What closes the text lexically: the open string delimiter, then the open brackets in reverse
 * (`foo(a, "b` → `")`, a docstring → `"""`). A heuristic probe middle, not a parse: `#`
 * starts a comment, backslash escapes inside strings, and text before the window is not seen.
 */
export function lineCloser(line: Uint8Array): string {
  const text = new TextDecoder().decode(line);
  const stack: string[] = [];
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
      }
      continue;
    }
    if (ch === '#') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = text.startsWith(ch.repeat(3), i) ? ch.repeat(3) : ch;
      i += quote.length - 1;
    } else if (ch === '(' || ch === '[' || ch === '{') {
      stack.push(ch === '(' ? ')' : ch === '[' ? ']' : '}');
    } else if ((ch === ')' || ch === ']' || ch === '}') && stack[stack.length - 1] === ch) {
      stack.pop();
    }
  }
  return (quote ?? '') + stack.reverse().join('');
}

/** Result of preparing a grammar for one request. */
export interface PreparedPrefix {
  /** The matcher after the whole prefix, or null when the prefix itself is not viable. */
  matcher: Matcher | null;
  plan: SuffixPlan;
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
  const closer = lineCloser(recentLines(prefix, CLOSER_WINDOW_LINES));
  const opensBlock = /:\s*$/.test(new TextDecoder().decode(cursorLine));
  const body = `\n${' '.repeat(indent + 4)}`;
  const stand = [
    ...(closer ? [closer, `0${closer}`, `${closer}:`] : []),
    ...options.probeMiddles,
    ...(opensBlock ? [`${body}pass`, `${body}"""`, `${body}'''`] : []),
  ];
  const middles = [...new Set(stand)].map((m) => concat(cursorLine, new TextEncoder().encode(m)));
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
  if (suffix.length === 0) candidates.splice(1);
  for (const c of candidates) {
    if (suffix.length === 0) break;
    const ok = c.probes.some((p) => {
      matcher.restore(atLineStart);
      return suffixAccepted(matcher, { ...c.plan, bytes: p });
    });
    if (ok) {
      plan = c.plan;
      break;
    }
  }
  matcher.restore(atLineStart);
  if (!matcher.consumeBytes(cursorLine)) return { matcher: null, plan: NO_SUFFIX_CHECK };
  return { matcher, plan };
}
