// Finishing a cut completion from the grammar (grammar-select.ts deriveEnd) with the real Python
// grammar and matcher: an ending several lexemes away, past the line break's scanner run (a new
// block header whose arguments the suffix continues), and the lexical bracket bound that prunes
// the search.
import { strict as assert } from 'node:assert';
import { loadGrammar, createMatcher } from '../../../src/engine/grammar';
import { BYTE_TOKENIZER } from '../../../src/cli/commands/grammar';
import { MaskSelector } from '../../../src/engine/decode/grammar-select';
import { bracketDemand, bracketDistance, preparePrefix, scanLex } from '../../../src/engine/decode/grammar-suffix';
import { errorCount, pythonParser } from '../../../src/cli/commands/eval-grammar';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A mask selector after `prefix` that has committed the bytes of `completion` (one token each). */
function selectorAfter(prefix: string, suffix: string, completion: string) {
  const grammar = loadGrammar('python');
  const prep = preparePrefix(createMatcher(grammar, undefined, BYTE_TOKENIZER), enc.encode(prefix), enc.encode(suffix));
  assert.ok(prep.matcher, 'the prefix is viable');
  assert.equal(prep.plan.check, 'full');
  const sel = new MaskSelector({ matcher: prep.matcher, plan: prep.plan, tokenizer: BYTE_TOKENIZER, closerState: prep.lex });
  for (const b of enc.encode(completion)) sel.accept(b);
  return sel;
}

/**
 * Trims `completion` (cut at max tokens after `prefix`, before `suffix`) and asserts that it was
 * ended by a derived ending that makes the file a program; returns the file.
 */
function derivedProgram(prefix: string, suffix: string, completion: string): { doc: string; keepBytes: number } {
  const sel = selectorAfter(prefix, suffix, completion);
  const end = sel.trimEnd('max_tokens', enc.encode(completion).length);
  assert.equal(sel.stats().endRepair, 'derive');
  assert.ok(typeof end !== 'number');
  const doc = prefix + completion.slice(0, end.keepBytes) + dec.decode(end.append) + suffix;
  const m = createMatcher(loadGrammar('python'), undefined, BYTE_TOKENIZER);
  assert.ok(m.consumeBytes(enc.encode(doc)) && m.isAccepting(), `${JSON.stringify(doc)} is no program`);
  return { doc, keepBytes: end.keepBytes };
}

describe('grammar modes: deriving an ending (real Python grammar)', () => {
  it('reaches a new block header past a line break when the suffix continues its arguments', async () => {
    // The cursor ends an import; the suffix goes on with the arguments of a header (`y=1):` and
    // an indented body), so only a line break and a new `def f(` / `if f(` / `class C(` lets the
    // file end. After the line break the scanner run is pending and the row still expects what
    // follows `import os` (`.`, `,`, `as`): the statement starters are seen only past the run.
    const prefix = 'import os\n\nx = 1\nimport os';
    const suffix = '\n        y=1):\n    """Doc."""\n    return y\n';
    const { doc } = derivedProgram(prefix, suffix, ' as o');
    const parser = await pythonParser();
    try {
      assert.equal(errorCount(parser, doc), 0, `tree-sitter: ${JSON.stringify(doc)}`);
    } finally {
      parser.delete();
    }
  });

  it('drops a comment the model wrote where a name must come, and derives the name from the start', () => {
    // `import |sys` and the model wrote a comment: nothing in the comment can end the import, so
    // the search must go on to the start of the completion, whose situation (a name is expected,
    // no comment open) only looks like the comment's if the comment is not part of the key.
    const prefix = 'import ';
    const suffix = '\nimport importlib\n';
    assert.equal(derivedProgram(prefix, suffix, ' #  0x000000000000').keepBytes, 0);
  });

  it('the examples after a line break include what may start the next statement', () => {
    const m = createMatcher(loadGrammar('python'), undefined, BYTE_TOKENIZER);
    assert.ok(m.consumeBytes(enc.encode('import os\n')));
    const ex = m.nextLexemeExamples().map((b) => dec.decode(b));
    for (const w of ['def', 'class', 'if', 'return']) assert.ok(ex.includes(w), `${w} in ${JSON.stringify(ex)}`);
    // The statement starters are added only where they are viable continuations.
    const snap = m.snapshot();
    for (const w of ['def', 'class', 'if', 'return']) {
      m.restore(snap);
      assert.ok(m.consumeBytes(enc.encode(w)), `${w} is viable after the line break`);
    }
    // Inside brackets a line break is no statement boundary: no statement keyword is added.
    const inCall = createMatcher(loadGrammar('python'), undefined, BYTE_TOKENIZER);
    assert.ok(inCall.consumeBytes(enc.encode('f(a,\n')));
    assert.ok(!inCall.nextLexemeExamples().some((b) => dec.decode(b) === 'def'));
  });

  it('bracketDemand reads the brackets a suffix closes; bracketDistance bounds the lexemes to get there', () => {
    const clean = scanLex('');
    assert.deepEqual(bracketDemand('\n    y=1):\n    pass\n', clean), [')']);
    assert.deepEqual(bracketDemand('a])\n', clean), [')', ']']);
    assert.deepEqual(bracketDemand('"x)" + f(1)\n', clean), []);
    assert.equal(bracketDemand('x)', scanLex('s = "ab')), null, 'the cursor is inside a string');
    // exact (the suffix is the rest of the file): the stack must become the demand
    assert.equal(bracketDistance([], [')'], true), 1);
    assert.equal(bracketDistance(['}'], [')'], true), 2);
    assert.equal(bracketDistance([')', ']'], [')', ']'], true), 0);
    assert.equal(bracketDistance([')', ']', ')'], [')', ']'], true), 1);
    // not exact (part of the file): brackets outside the demand may stay open
    assert.equal(bracketDistance(['}'], [')'], false), 1);
    assert.equal(bracketDistance(['}', ')'], [')'], false), 0);
  });
});
