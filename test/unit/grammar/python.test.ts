import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { check, accepts, matcher } from './helpers';
import type { State } from '../../../src/engine/grammar/runtime';

describe('grammar engine: Python (with the external-scanner emulation)', () => {
  it('indentation: indent, dedent (several at once), tabs, comments, brackets, continuation lines', () => {
    assert.ok(accepts('python', 'if a:\n    b = 2\nc = 3\n'));
    assert.ok(accepts('python', 'if a:\n    if b:\n        c\nd\n'));
    assert.ok(accepts('python', 'if a:\n\tb\n\tif c:\n\t\td\ne\n'));
    assert.ok(accepts('python', 'if a:\n    if b:\n        n\n        # comment deeper\n    else:\n        x\n'));
    assert.ok(accepts('python', 'if b:\n    n\n  # comment shallower\nelse:\n    x\n'));
    assert.ok(accepts('python', 'x = (1,\n  2,\n        3)\ny = [\n]\n'));
    assert.ok(accepts('python', 'x = 1 + \\\n    2\n'));
    assert.ok(accepts('python', 'class A:\n    def f(self): pass  # trailing\n\n\nprint(1)'));
    assert.ok(accepts('python', 'x = 1'), 'no newline at end of file');
    // tree-sitter-python (the reference) accepts an empty block and a dedent to a new level
    assert.ok(accepts('python', 'if a:\nb\n'));
    assert.ok(accepts('python', 'if a:\n    b\n  c\n'));
    assert.equal(accepts('python', 'if a:\n    b\nelse b\n'), false);
    assert.deepEqual(check('python', 'def f(:\n'), { accepted: false, deadAt: 6 });
    // the scanner emits a dedent where the parser cannot take one (no newline expected, not in
    // brackets): tree-sitter reports an error there instead of reading on
    assert.equal(accepts('python', 'if a:\n    if b:\n        e = os.\n    r = e\n'), false);
    assert.equal(accepts('python', 'if a:\n    if b:\n        e = (os.\n    r)\n'), false, 'a `)` is not valid after `.`: not within brackets');
    assert.ok(accepts('python', 'if a:\n    if b:\n        e = (os\n    )\n'), 'within brackets the layout is ignored');
    // tree-sitter calls the scanner once before skipped whitespace, not again after it: a string
    // cut by a newline cannot restart after the blank line
    assert.equal(accepts('python', "x = ' # t\n\nb'\n"), false);
    assert.ok(accepts('python', 'x = f(a, \'s\')\nif x:  # c\n    y = "a"  \'b\'\n'));
    // tree-sitter's table never reads a typed lambda parameter (the colon ends the parameters)
    assert.equal(accepts('python', 'f = lambda s: int: 0\n'), false);
    assert.ok(accepts('python', 'f = lambda s=1, *a, **k: 0\ndef g(a: int, b: str = "x"): pass\n'));
  });

  it('strings: quotes, triple quotes, prefixes, f-string interpolation and escaped braces', () => {
    assert.ok(accepts('python', 'a = "x" + \'y\' + """doc\n"string"\n""" + \'\'\'z\'\'\'\n'));
    assert.ok(accepts('python', 'a = ""\nb = \'\'\n'));
    assert.ok(accepts('python', 'a = r"\\d+\\"" + b"\\x00" + rb\'\\N\' + u"é"\n'));
    assert.ok(accepts('python', 'a = f"{x!r:>{width}} {{literal}} {y[\'k\']}"\n'));
    assert.ok(accepts('python', 'a = f"""\n{x}\n"""\n'));
    assert.equal(accepts('python', 'a = "abc\n"\n'), false, 'newline inside a one-line string');
    assert.equal(accepts('python', 'a = "abc'), false);
    assert.deepEqual(check('python', 'a = "x" "y" z\n'), { accepted: false, deadAt: 12 });
    assert.deepEqual(check('python', 'x = 1 ifx\n'), { accepted: false, deadAt: 8 }, 'a keyword prefix that turns into a word');
  });

  it('a string\'s scanner run does not depend on the indentation around it (its verdicts edit the state it began in)', () => {
    const runsInside = (text: string) => {
      const m = matcher('python');
      assert.ok(m.consumeBytes(new TextEncoder().encode(text)), text);
      return ((m.snapshot() as State).runs ?? []).map((r) => r.run);
    };
    const top = runsInside('s = "ab'), nested = runsInside('if a:\n    if b:\n        s = "ab');
    assert.ok(top.length > 0 && top.some((r) => (r.data as { m: string }).m === 'C'), 'a string-content run is pending');
    assert.deepEqual(nested.map((r) => r.id), top.map((r) => r.id), 'one run object in both contexts');
    // and the state after the string still holds the indentation: the dedents come out right
    assert.ok(accepts('python', 'if a:\n    if b:\n        s = "ab" f"{x}" \'\'\'c\'\'\'\n    t = 1\nu = 2\n'));
    assert.ok(accepts('python', 'if a:\n    if b:\n        s = "x"\n    else:\n        s = f"{y}"\nelse:\n    pass\n'));
  });

  it('runs at code and comment positions do not depend on the indent stack (layout asks it only where a line\'s indentation decides)', () => {
    const runsAfter = (text: string) => {
      const m = matcher('python');
      assert.ok(m.consumeBytes(new TextEncoder().encode(text)), text);
      return ((m.snapshot() as State).runs ?? []).map((r) => r.run.id);
    };
    const call = runsAfter('if a:\n    x = foo(a, '), deeperCall = runsAfter('if a:\n  if b:\n    x = foo(a, ');
    assert.ok(call.length > 0, 'a scanner run is pending after `, `');
    assert.deepEqual(deeperCall, call, 'one run after `, ` under indent stacks [0, 4] and [0, 2, 4]');
    const comment = runsAfter('if a:\n    pass\n    # note'), deeperComment = runsAfter('if a:\n  if b:\n    pass\n    # note');
    assert.ok(comment.length > 0, 'a layout run is pending inside a comment line');
    assert.deepEqual(deeperComment, comment, 'one run inside a comment at column 4 under both stacks');
    // the decisions still follow each stack
    assert.ok(accepts('python', 'try:\n  if a:\n    pass\n    # note\nexcept:\n  pass\n'));
    assert.ok(accepts('python', 'try:\n    if a:\n        pass\n    # note\nexcept:\n    pass\n'));
    assert.equal(accepts('python', 'if a:\n    pass\n    # note\nexcept:\n    pass\n'), false);
  });

  it('keywords and reserved words: `if` is never an identifier, soft keywords are', () => {
    assert.ok(accepts('python', 'ifx = 2\nmatch = 1\nprint(match)\n'));
    assert.ok(accepts('python', 'match x:\n    case 1:\n        pass\n'));
    assert.deepEqual(check('python', 'if = 2\n'), { accepted: false, deadAt: 3 });
    assert.equal(accepts('python', 'None = 1\n'), false);
  });

  it('accepts real standard-library files, every prefix viable', function () {
    const files = ['/usr/lib/python3.11/textwrap.py', '/usr/lib/python3.11/json/encoder.py'].filter((f) => fs.existsSync(f));
    if (files.length === 0) this.skip();
    for (const f of files) assert.deepEqual(check('python', fs.readFileSync(f, 'utf8')), { accepted: true, deadAt: null }, f);
  });
});
