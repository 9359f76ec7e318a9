// Translates the Oniguruma (Ruby-syntax) regexes found in tokenizer.json pre-tokenizers into
// JavaScript RegExp source for the `u` flag. Only what the Rust `tokenizers` crate sees differently
// from JS is rewritten; anything we cannot reproduce faithfully is rejected with a message rather
// than silently approximated.
//
// Semantics chosen (they match Oniguruma on the patterns byte-level BPE tokenizers ship, and the
// reference @huggingface/tokenizers):
// - `\s`/`\S` → `\p{White_Space}` (JS `\s` wrongly includes U+FEFF and misses U+0085);
// - `\d` → `\p{Nd}`; `\w` → Unicode word characters; `\h` → hex digit;
// - `.` excludes only `\n`; `^`/`$` are line anchors on `\n` only; `\A`, `\z`, `\Z` absolute;
// - `(?i:…)` and `(?i)` fold ASCII letters (JS in Node 20 has no inline modifiers);
// - `(?>…)` atomic groups and possessive `*+ ++ ?+` become ordinary (the shipped patterns do
//   not depend on the difference); `\x{…}` → `\u{…}`.

const WORD_CHARS = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}';
const WORD_CLASS = `[${WORD_CHARS}]`;
const NON_WORD_CLASS = `[^${WORD_CHARS}]`;
const HEX = '0-9A-Fa-f';

/** Escapes of single characters: the same inside and outside a character class. */
const CHAR_ESCAPES: Record<string, string> = {
  a: '\\x07',
  e: '\\x1B',
  n: '\\n',
  r: '\\r',
  t: '\\t',
  f: '\\f',
  v: '\\v',
  '0': '\\0',
};

const ESCAPES: Record<string, string> = {
  s: '\\p{White_Space}',
  S: '\\P{White_Space}',
  d: '\\p{Nd}',
  D: '\\P{Nd}',
  w: WORD_CLASS,
  W: NON_WORD_CLASS,
  h: `[${HEX}]`,
  H: `[^${HEX}]`,
  A: '(?<![\\s\\S])',
  z: '(?![\\s\\S])',
  Z: '(?=\\n?(?![\\s\\S]))',
  b: `(?:(?<!${WORD_CLASS})(?=${WORD_CLASS})|(?<=${WORD_CLASS})(?!${WORD_CLASS}))`,
  B: `(?:(?<!${WORD_CLASS})(?!${WORD_CLASS})|(?<=${WORD_CLASS})(?=${WORD_CLASS}))`,
  ...CHAR_ESCAPES,
};

const CLASS_ESCAPES: Record<string, string> = {
  s: '\\p{White_Space}',
  S: '\\P{White_Space}',
  d: '\\p{Nd}',
  D: '\\P{Nd}',
  w: WORD_CHARS,
  h: HEX,
  ...CHAR_ESCAPES,
};

const POSIX: Record<string, string> = {
  alpha: '\\p{Alphabetic}',
  alnum: '\\p{Alphabetic}\\p{Nd}',
  digit: '\\p{Nd}',
  lower: '\\p{Lowercase}',
  upper: '\\p{Uppercase}',
  space: '\\p{White_Space}',
  blank: '\\t\\p{Zs}',
  punct: '\\p{P}\\p{S}',
  cntrl: '\\p{Cc}',
  word: WORD_CHARS,
  xdigit: HEX,
};

const CONTROL_CODES: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11, a: 7, e: 27, '0': 0 };

/** Characters that must stay escaped in a JS `u` pattern (identity escapes are errors otherwise). */
const SYNTAX = new Set('^$\\.*+?()[]{}|/');

/** An Oniguruma construct with no faithful JS equivalent (or malformed input). */
export class RegexTranslationError extends Error {}

function propertyEscape(kind: string, name: string): string {
  // Oniguruma accepts script names bare (`\p{Han}`); JS wants `Script=Han`.
  try {
    new RegExp(`\\${kind}{${name}}`, 'u');
    return `\\${kind}{${name}}`;
  } catch {
    try {
      new RegExp(`\\${kind}{Script=${name}}`, 'u');
      return `\\${kind}{Script=${name}}`;
    } catch {
      throw new RegexTranslationError(`unknown Unicode property \\${kind}{${name}}`);
    }
  }
}

function escapeLiteral(ch: string, inClass: boolean): string {
  if (SYNTAX.has(ch) || (inClass && ch === '-')) return '\\' + ch;
  return ch;
}

function isAsciiLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/** ASCII case-folded extra ranges for the code point range [lo, hi] (as class source). */
function foldRange(lo: number, hi: number): string {
  let extra = '';
  const add = (a: number, b: number, delta: number) => {
    const from = Math.max(lo, a);
    const to = Math.min(hi, b);
    if (from <= to) {
      extra += from === to
        ? String.fromCharCode(from + delta)
        : `${String.fromCharCode(from + delta)}-${String.fromCharCode(to + delta)}`;
    }
  };
  add(0x61, 0x7a, -32);
  add(0x41, 0x5a, 32);
  return extra;
}

/**
 * Returns JS RegExp source (for flags `u` plus `g`/`y`) equivalent to an Oniguruma pattern.
 * Throws RegexTranslationError for unsupported constructs (`\G`, nested classes, `&&`,
 * backreferences, conditionals, …).
 */
export function translateOnigurumaRegex(pattern: string): string {
  let i = 0;
  const n = pattern.length;
  let out = '';
  // One entry per open group: whether ASCII folding was on outside it (restored at `)`).
  const foldStack: boolean[] = [];
  let fold = false;

  const readHexEscape = (e: string): { src: string; value: number } => {
    // At pattern[i] === e ('x' or 'u') after a backslash: `\x{HHHH}`, `\xHH` or `\uHHHH`.
    if (pattern[i + 1] === '{') {
      const close = pattern.indexOf('}', i + 2);
      if (close < 0) throw new RegexTranslationError('unterminated \\x{…}');
      const hex = pattern.slice(i + 2, close);
      if (!/^[0-9A-Fa-f]{1,6}$/.test(hex)) throw new RegexTranslationError(`bad code point \\x{${hex}}`);
      i = close + 1;
      return { src: `\\u{${hex}}`, value: parseInt(hex, 16) };
    }
    const len = e === 'x' ? 2 : 4;
    const hex = pattern.slice(i + 1, i + 1 + len);
    if (!new RegExp(`^[0-9A-Fa-f]{${len}}$`).test(hex)) throw new RegexTranslationError(`bad escape \\${e}${hex}`);
    i += 1 + len;
    return { src: `\\${e}${hex}`, value: parseInt(hex, 16) };
  };

  const readProperty = (kind: string): string => {
    // pattern[i] is 'p' or 'P' after a backslash.
    if (pattern[i + 1] !== '{') throw new RegexTranslationError(`\\${kind} needs braces`);
    const close = pattern.indexOf('}', i + 2);
    if (close < 0) throw new RegexTranslationError(`unterminated \\${kind}{…}`);
    let name = pattern.slice(i + 2, close);
    let k = kind;
    if (name.startsWith('^')) {
      name = name.slice(1);
      k = kind === 'p' ? 'P' : 'p';
    }
    i = close + 1;
    if (name === 'Word') return k === 'p' ? WORD_CHARS : `^${WORD_CHARS}`; // caller wraps
    return propertyEscape(k, name);
  };

  const parseClass = (): string => {
    // pattern[i] === '['
    i++;
    let negate = false;
    if (pattern[i] === '^') {
      negate = true;
      i++;
    }
    let body = '';
    let foldExtra = '';
    let first = true;
    // Literal code points just read, for range folding: [lo, hi] once a range completes.
    let pendingLiteral: number | null = null;
    while (i < n && (pattern[i] !== ']' || first)) {
      const c = pattern[i];
      first = false;
      if (c === '[') {
        if (pattern.startsWith('[:', i)) {
          const close = pattern.indexOf(':]', i + 2);
          if (close < 0) throw new RegexTranslationError('unterminated POSIX bracket');
          let name = pattern.slice(i + 2, close);
          const neg = name.startsWith('^');
          if (neg) name = name.slice(1);
          const frag = POSIX[name];
          if (!frag || neg) throw new RegexTranslationError(`unsupported POSIX class [:${neg ? '^' : ''}${name}:]`);
          body += frag;
          i = close + 2;
          pendingLiteral = null;
          continue;
        }
        throw new RegexTranslationError('nested character classes are not supported');
      }
      if (c === '&' && pattern[i + 1] === '&') throw new RegexTranslationError('class intersection (&&) is not supported');
      let literal: number | null = null;
      let piece: string;
      if (c === '\\') {
        const e = pattern[i + 1];
        if (e === undefined) throw new RegexTranslationError('pattern ends with a backslash');
        if (e === 'p' || e === 'P') {
          i++;
          const prop = readProperty(e);
          if (prop.startsWith('^')) throw new RegexTranslationError('\\P{Word} inside a class is not supported');
          piece = prop;
        } else if (e === 'x' || e === 'u') {
          i++;
          const h = readHexEscape(e);
          piece = h.src;
          literal = h.value;
        } else if (e in CLASS_ESCAPES) {
          piece = CLASS_ESCAPES[e];
          i += 2;
          literal = CONTROL_CODES[e] ?? null;
        } else if (e === 'W' || e === 'H') {
          throw new RegexTranslationError(`\\${e} inside a character class is not supported`);
        } else if (/[A-Za-z0-9]/.test(e)) {
          throw new RegexTranslationError(`unsupported escape \\${e} in a character class`);
        } else {
          const cp = pattern.codePointAt(i + 1)!;
          const ch = String.fromCodePoint(cp);
          piece = escapeLiteral(ch, true);
          literal = cp;
          i += 1 + ch.length;
        }
      } else {
        const cp = pattern.codePointAt(i)!;
        const ch = String.fromCodePoint(cp);
        if (c === '-' && pendingLiteral !== null && i + 1 < n && pattern[i + 1] !== ']') {
          // A range: read its upper end.
          i++;
          const before = i;
          let hi: number;
          let hiSrc: string;
          if (pattern[i] === '\\') {
            const e = pattern[i + 1];
            if (e === 'x' || e === 'u') {
              i++;
              const h = readHexEscape(e);
              hiSrc = h.src;
              hi = h.value;
            } else if (/[A-Za-z0-9]/.test(e ?? '')) {
              throw new RegexTranslationError(`unsupported range end \\${e}`);
            } else {
              hi = pattern.codePointAt(i + 1)!;
              hiSrc = escapeLiteral(String.fromCodePoint(hi), true);
              i += 1 + String.fromCodePoint(hi).length;
            }
          } else {
            hi = pattern.codePointAt(i)!;
            hiSrc = escapeLiteral(String.fromCodePoint(hi), true);
            i += String.fromCodePoint(hi).length;
          }
          if (i === before) throw new RegexTranslationError('bad range');
          body += '-' + hiSrc;
          if (fold) foldExtra += foldRange(pendingLiteral, hi);
          pendingLiteral = null;
          continue;
        }
        piece = escapeLiteral(ch, true);
        literal = cp;
        i += ch.length;
      }
      // A literal may start a range; fold it now and undo nothing if it does (the range adds a superset).
      if (fold && literal !== null) foldExtra += foldRange(literal, literal);
      body += piece;
      pendingLiteral = literal;
    }
    if (pattern[i] !== ']') throw new RegexTranslationError('unterminated character class');
    i++;
    return `[${negate ? '^' : ''}${body}${foldExtra}]`;
  };

  while (i < n) {
    const c = pattern[i];
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) throw new RegexTranslationError('pattern ends with a backslash');
      if (e === 'p' || e === 'P') {
        i++;
        const prop = readProperty(e);
        out += prop.startsWith('\\') ? prop : `[${prop}]`;
        continue;
      }
      if (e === 'x' || e === 'u') {
        i++;
        out += readHexEscape(e).src;
        continue;
      }
      if (e in ESCAPES) {
        out += ESCAPES[e];
        i += 2;
        continue;
      }
      if (/[A-Za-z0-9]/.test(e)) {
        throw new RegexTranslationError(`unsupported escape \\${e}`);
      }
      const cp = pattern.codePointAt(i + 1)!;
      const ch = String.fromCodePoint(cp);
      out += fold && isAsciiLetter(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : escapeLiteral(ch, false);
      i += 1 + ch.length;
      continue;
    }
    if (c === '[') {
      out += parseClass();
      continue;
    }
    if (c === '(') {
      if (pattern[i + 1] !== '?') {
        foldStack.push(fold);
        out += '(';
        i++;
        continue;
      }
      const rest = pattern.slice(i);
      let m: RegExpMatchArray | null;
      if ((m = rest.match(/^\(\?([imx]*)(?:-([imx]*))?([:)])/)) && (m[1] || m[2] || m[3] === ':')) {
        const on = m[1] ?? '';
        const off = m[2] ?? '';
        if (/[mx]/.test(on + off)) throw new RegexTranslationError(`unsupported inline option (?${on}${off ? '-' + off : ''})`);
        const newFold: boolean = on.includes('i') ? true : off.includes('i') ? false : fold;
        i += m[0].length;
        if (m[3] === ':') {
          foldStack.push(fold);
          fold = newFold;
          out += '(?:';
        } else {
          // (?i) applies to the end of the enclosing group.
          fold = newFold;
        }
        continue;
      }
      if (rest.startsWith('(?#')) {
        const close = pattern.indexOf(')', i);
        if (close < 0) throw new RegexTranslationError('unterminated comment');
        i = close + 1;
        continue;
      }
      if (rest.startsWith('(?>')) {
        foldStack.push(fold);
        out += '(?:';
        i += 3;
        continue;
      }
      if ((m = rest.match(/^\(\?(?:<[=!]|[=!]|<[A-Za-z_][A-Za-z0-9_]*>)/))) {
        foldStack.push(fold);
        out += m[0];
        i += m[0].length;
        continue;
      }
      throw new RegexTranslationError(`unsupported group ${rest.slice(0, 4)}…`);
    }
    if (c === ')') {
      if (foldStack.length === 0) throw new RegexTranslationError('unbalanced )');
      fold = foldStack.pop()!;
      out += ')';
      i++;
      continue;
    }
    if (c === '.') {
      out += '[^\\n]';
      i++;
      continue;
    }
    if (c === '^') {
      out += '(?:(?<![\\s\\S])|(?<=\\n))';
      i++;
      continue;
    }
    if (c === '$') {
      out += '(?:(?=\\n)|(?![\\s\\S]))';
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      out += c;
      i++;
      if (pattern[i] === '?') {
        out += '?';
        i++;
      } else if (pattern[i] === '+') {
        i++; // possessive → greedy
      }
      continue;
    }
    if (c === '{') {
      const m = pattern.slice(i).match(/^\{(\d+(?:,\d*)?|,\d+)\}/);
      if (m) {
        const q = m[1].startsWith(',') ? `{0${m[1]}}` : m[0];
        out += q;
        i += m[0].length;
        if (pattern[i] === '?') {
          out += '?';
          i++;
        } else if (pattern[i] === '+') {
          throw new RegexTranslationError('stacked quantifier {n}+ is not supported');
        }
        continue;
      }
      out += '\\{';
      i++;
      continue;
    }
    if (c === '}' || c === ']') {
      out += '\\' + c;
      i++;
      continue;
    }
    const cp = pattern.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    out += fold && isAsciiLetter(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch === '/' ? '\\/' : ch;
    i += ch.length;
  }
  if (foldStack.length > 0) throw new RegexTranslationError('unbalanced (');
  // Compile once to surface anything we let through that JS rejects.
  try {
    new RegExp(out, 'u');
  } catch (err) {
    throw new RegexTranslationError(`translated pattern does not compile: ${(err as Error).message}`);
  }
  return out;
}
