// Suffix-aware termination on the real Python grammar (H4's matcher): which check the request
// gets when the file is sound, broken after the cursor's block, broken inside it, or broken
// right below the cursor; and that an ending the check allows really parses.
import { strict as assert } from 'node:assert';
import { createMatcher, loadGrammar, type CompiledGrammar } from '../../../src/engine/grammar';
import { closerOf, lineCloser, preparePrefix, scanLex, suffixAccepted } from '../../../src/engine/decode/grammar-suffix';
import type { TokenizerLike } from '../../../src/engine/interfaces';

const enc = new TextEncoder();

/** One token per byte, plus an end token: enough for a matcher that only consumes bytes here. */
const byteTokenizer: TokenizerLike = {
  vocabSize: 257,
  encodeBytes: (b) => Array.from(b),
  tokenBytes: (id) => (id < 256 ? Uint8Array.of(id) : enc.encode('<|endoftext|>')),
  decodeBytes: (ids) => Uint8Array.from(ids.filter((i) => i < 256)),
  specialTokenId: (c) => (c === '<|endoftext|>' ? 256 : undefined),
  isSpecial: (id) => id === 256,
  preTokenizeBoundaries: (b) => [0, b.length],
};

describe('suffix-aware termination on real Python', function () {
  this.timeout(60_000);
  let g: CompiledGrammar;
  before(() => {
    g = loadGrammar('python');
  });
  const plan = (prefix: string, suffix: string) => {
    const p = preparePrefix(createMatcher(g, null, byteTokenizer), enc.encode(prefix), enc.encode(suffix));
    return { check: p.plan.check, p };
  };

  it('uses the full check when the rest of the file is sound', () => {
    assert.equal(plan('def f(x):\n    return x +', ' 1\n\nprint(f(2))\n').check, 'full');
    // Mid-line cursor whose line only parses once completed.
    assert.equal(plan('def f(x):\n    y = g(', '\n    return y\n').check, 'full');
    // New, empty function body at the end of the file.
    assert.equal(plan('def f(x):\n    ', '').check, 'full');
  });

  it('falls back to the block when the file is broken after it', () => {
    const { check, p } = plan('def f(x):\n    y = ', '\n    return y\n\ndef g(:\n    pass\n');
    assert.equal(check, 'block');
    // Ending after "1" closes the block; ending after "(" does not.
    const m = p.matcher!;
    const s = m.snapshot();
    assert.ok(m.consumeBytes(enc.encode('1')) && suffixAccepted(m, p.plan));
    m.restore(s);
    assert.ok(m.consumeBytes(enc.encode('(')) && !suffixAccepted(m, p.plan));
  });

  it('falls back to the next lines when the block itself is broken', () => {
    assert.equal(plan('def f(x):\n    y = ', '\n    a = 1\n    b = 2\n    c = 3\n    d = (]\n').check, 'lines');
  });

  it('keeps the full check when no stand-in fits (a new block header under the cursor)', () => {
    // The real middle is `def g(a,`: no probe guesses it, which is no evidence of a broken file.
    assert.equal(plan('def f():\n    return 1\n', '\n      b):\n    return a + b\n').check, 'full');
    // Multi-line signature: closing it needs `):`.
    assert.equal(plan('class A:\n    def f(\n        self,\n        x: int = 1,', '\n        return x\n').check, 'full');
  });

  it('keeps the full check where the removed text opened a bracket on a new line (a multi-line literal)', () => {
    // The real middle is `\n\n    tokens = {`: the suffix goes on with the dict's entries, deeper.
    const prefix = "class SwiftLexer(RegexLexer):\n    name = 'Swift'\n    aliases = ['swift']";
    const suffix = "\n        'root': [\n            (r'\\n', Text),\n        ],\n    }\n\n\nx = 1\n";
    const r = plan(prefix, suffix);
    assert.equal(r.check, 'full');
    // and an ending that opens a docstring the next lines stay inside is not accepted there
    const m = r.p.matcher!;
    assert.ok(m.consumeBytes(enc.encode('\n\n\nclass SingleLexer(Base):\n    """\n')));
    assert.equal(suffixAccepted(m, r.p.plan), false);
  });

  it('disables the grammar when the prefix itself is broken', () => {
    assert.equal(plan('def f(:\n    x = ', '\n').p.matcher, null);
  });
});

describe('suffix-aware termination: stand-in middles', function () {
  this.timeout(60_000);
  let g: CompiledGrammar;
  before(() => {
    g = loadGrammar('python');
  });
  const check = (prefix: string, suffix: string) =>
    preparePrefix(createMatcher(g, null, byteTokenizer), enc.encode(prefix), enc.encode(suffix)).plan.check;

  it('closes the open string and brackets of the cursor line', () => {
    assert.equal(lineCloser(enc.encode("    raise ImportError('Does your Python installatio")), "')");
    assert.equal(lineCloser(enc.encode('x = f(a, [1, "]"')), '])');
    assert.equal(lineCloser(enc.encode('x = f(a)  # (')), '');
    assert.equal(check("def f():\n    raise ImportError('Does your Python installatio", '\n\nx = 1\n'), 'full');
  });

  it('opens a block body when the cursor line ends a block header (docstring under the cursor)', () => {
    assert.equal(check('class A:\n    def f(self):', 'Initializer.\n\n        More.\n        """\n        return 1\n'), 'full');
  });
});

describe('suffix-aware termination: open strings and brackets of earlier lines', function () {
  this.timeout(60_000);
  it('closes a call opened on the previous line, and a docstring opened lines above', () => {
    const g = loadGrammar('python');
    const check = (prefix: string, suffix: string) =>
      preparePrefix(createMatcher(g, null, byteTokenizer), enc.encode(prefix), enc.encode(suffix)).plan.check;
    assert.equal(lineCloser(enc.encode("x = f('a'\n      'b")), "')");
    assert.equal(check("try:\n    pass\nexcept E:\n    raise E('a '\n            'installatio", '\n'), 'full');
    assert.equal(check('def f():\n    """Doc.\n\n    More (an int >= 256).', '\n    return 1\n'), 'full');
  });
});

describe('suffix-aware termination: stand-ins a cut completion falls back to', function () {
  this.timeout(60_000);
  let g: CompiledGrammar;
  before(() => {
    g = loadGrammar('python');
  });
  /** The plan's first stand-in (the one whose probe passed), and its check. */
  const first = (prefix: string, suffix: string) => {
    const { plan } = preparePrefix(createMatcher(g, null, byteTokenizer), enc.encode(prefix), enc.encode(suffix));
    return { check: plan.check, standIn: new TextDecoder().decode(plan.standIns![0]!) };
  };

  it('finishes a keyword, a decorated def, a docstring opening, a block after a commented header', () => {
    assert.deepEqual(first('def f():\n    tr', '\n        x = 1\n    except KeyError:\n        pass\n'), { check: 'full', standIn: 'y:' });
    // After a decorator only a definition may come (the first stand-in is not asserted: the
    // grammar engine still lets an indented line follow a decorator, see issue #4).
    const deco = preparePrefix(createMatcher(g, null, byteTokenizer), enc.encode('class A:\n    @staticmethod'), enc.encode('\n        return 1\n')).plan;
    assert.ok(deco.standIns!.some((b) => new TextDecoder().decode(b) === '\n    def f():'));
    assert.deepEqual(first('def f():\n    r"', '\n    Doc.\n    """\n    return 1\n'), { check: 'full', standIn: '""' });
    assert.deepEqual(first('def f(self, o):  # noqa: F811', '\n    for use with sets. """\n    return o\n'), { check: 'full', standIn: '\n    """' });
    // After a comment on the cursor line the stand-in starts on the next line.
    assert.deepEqual(first("x = [\n    # items", "\n     'a', 'b'),\n]\n"), { check: 'full', standIn: '\n(' });
    // Inside a closing triple quote: only the missing quotes.
    assert.deepEqual(first('def f():\n    """Doc."', '\n    return 1\n'), { check: 'full', standIn: '""' });
  });

  it('scans the whole prefix for what is open: a window of recent lines may start inside a docstring', () => {
    const doc = Array.from({ length: 80 }, (_, i) => `    line ${i} of the doc, it's long`).join('\n');
    const text = `def g():\n    """\n${doc}\n    """\n\n\ndef f(a, b = N`;
    assert.equal(closerOf(scanLex(text)), ')');
    // Chunked scanning (prefix, then completion) agrees with one pass, also across a triple quote.
    for (const cut of [text.indexOf('"""') + 1, text.indexOf('"""') + 2, text.length - 3]) {
      assert.deepEqual(scanLex(text.slice(cut), scanLex(text.slice(0, cut))), scanLex(text), `cut at ${cut}`);
    }
    assert.equal(closerOf(scanLex('x = """abc""')), '"');
    assert.equal(closerOf(scanLex("s = 'it\n")), '', 'a single-quoted string ends at its line');
    assert.equal(closerOf(scanLex('f(a,  # note (')), '\n)', 'after a comment, close on the next line');
  });
});
