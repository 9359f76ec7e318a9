import { strict as assert } from 'node:assert';
import { allowsMultiline, candidateLabel, describeChange, infillCandidates, isClosingOnly, planInlineEdit, repeatsSuffix, shapeText } from '../../../src/vscode/edits';

/** Builds an edit context from a line with `|` at the cursor and the lines after it. */
function at(lineWithCursor: string, after = '') {
  const i = lineWithCursor.indexOf('|');
  const linePrefix = lineWithCursor.slice(0, i);
  const restOfLine = lineWithCursor.slice(i + 1);
  return { linePrefix, restOfLine, suffix: restOfLine + (after ? `\n${after}` : '') };
}

describe('vscode-glue: inline edit decisions', () => {
  it('closing-only rest of line', () => {
    assert.ok(isClosingOnly(''));
    assert.ok(isClosingOnly(')]}  '));
    assert.ok(isClosingOnly('");'));
    assert.ok(!isClosingOnly(' + 1)'));
  });

  it('multi-line only on a blank line or after a block opener, with nothing but closers after', () => {
    assert.ok(allowsMultiline('    ', ''));
    assert.ok(allowsMultiline('def f(x):', ''));
    assert.ok(allowsMultiline('function f() {', '}'));
    assert.ok(allowsMultiline('const g = () =>', ''));
    assert.ok(allowsMultiline('foo(', ''));
    assert.ok(!allowsMultiline('print(', ')'));
    assert.ok(!allowsMultiline('x = ', ''));
    assert.ok(!allowsMultiline('    ', 'foo()'));
  });

  it('single-line completions stop at the first line break', () => {
    assert.equal(shapeText('os.getcwd()\nprint(1)\n', false), 'os.getcwd()');
    assert.equal(shapeText('\n    return 1\n\n\n', true), '\n    return 1');
  });

  it('drops a suggestion that repeats the text after the cursor', () => {
    assert.ok(repeatsSuffix(')', ')\n'));
    assert.ok(repeatsSuffix('   ', 'x'));
    assert.ok(repeatsSuffix('return x\n', '  return  x\nfoo()'));
    assert.ok(!repeatsSuffix('"hi")', ')'));
    assert.equal(planInlineEdit(at('print(|)'), ')', 0), undefined);
    assert.equal(planInlineEdit(at('def f(x):|', '    return x'), '\n    return x', 0), undefined);
  });

  it('plain insertion at the cursor', () => {
    assert.deepEqual(planInlineEdit(at('x = os.|'), 'getcwd()\nprint(x)', 0), { insertText: 'getcwd()', deleteBefore: 0, deleteAfter: 0, multiline: false });
  });

  it('healing that re-spells the same characters becomes a plain insertion', () => {
    // Cursor after "ret": the engine re-spelled "ret" as part of the token "return".
    assert.deepEqual(planInlineEdit(at('    ret|'), 'return x', 3), { insertText: 'urn x', deleteBefore: 0, deleteAfter: 0, multiline: false });
  });

  it('healing that changes characters before the cursor keeps a replace range', () => {
    const plan = planInlineEdit(at('x = 1 +|'), ' - 2', 2);
    assert.deepEqual(plan, { insertText: ' - 2', deleteBefore: 2, deleteAfter: 0, multiline: false });
    // Re-spelling across a line break cannot be shown as ghost text.
    assert.equal(planInlineEdit(at('|'), 'x', 2), undefined);
  });

  it('replaces closing punctuation after the cursor that the completion ends with', () => {
    assert.deepEqual(planInlineEdit(at('print(|)'), '"hello")', 0), { insertText: '"hello")', deleteBefore: 0, deleteAfter: 1, multiline: false });
    assert.deepEqual(planInlineEdit(at('print(|)'), '"hello"', 0), { insertText: '"hello"', deleteBefore: 0, deleteAfter: 0, multiline: false });
    assert.deepEqual(planInlineEdit(at('f(g(|))  '), 'x))', 0)?.deleteAfter, 2);
  });

  it('multi-line completion after a block opener', () => {
    const plan = planInlineEdit(at('def add(a, b):|', 'print(add(1, 2))'), '\n    return a + b\n\n', 0);
    assert.deepEqual(plan, { insertText: '\n    return a + b', deleteBefore: 0, deleteAfter: 0, multiline: true });
  });
});

describe('vscode-glue: infill candidates', () => {
  it('dedupes, drops empty and unchanged candidates, folds identical re-spelling', () => {
    const prefix = 'def f(x):\n    ret';
    const cands = infillCandidates(
      [
        { text: 'urn x + 1', respelledChars: 0 },
        { text: 'return x + 1', respelledChars: 3 },
        { text: '   ', respelledChars: 0 },
        { text: 'urn x', respelledChars: 0 },
        { text: 'urn x * 2', respelledChars: 0 },
      ],
      prefix,
      'urn x',
    );
    assert.deepEqual(cands.map((c) => [c.text, c.deleteBefore, c.index]), [['urn x + 1', 0, 0], ['urn x * 2', 0, 4]]);
  });

  it('describes a change in one line', () => {
    assert.equal(describeChange('a = 1\nb = 2', 'a = 3'), '−2 +1 lines   − a = 1 ⏎ b = 2   + a = 3');
    assert.equal(candidateLabel('\n\n    return x\n    y'), 'return x');
  });
});
