// The measuring parts of `eval-grammar`: tree-sitter error counting and edit similarity.
import { strict as assert } from 'node:assert';
import { editSimilarity, errorCount, pythonParser, type TsParser } from '../../../src/cli/commands/eval-grammar';

describe('eval-grammar helpers', function () {
  this.timeout(30_000);
  let parser: TsParser;
  before(async () => {
    parser = await pythonParser();
  });
  after(() => parser.delete());

  it('counts ERROR and MISSING nodes of real Python', () => {
    assert.equal(errorCount(parser, 'def f(x):\n    return x + 1\n'), 0);
    assert.ok(errorCount(parser, 'def f(x):\n    return (x + 1\n') > 0);
    assert.ok(errorCount(parser, 'x = = 1\n') > 0);
  });

  it('edit similarity is 1 − Levenshtein / longer length', () => {
    assert.equal(editSimilarity('abc', 'abc'), 1);
    assert.equal(editSimilarity('', 'abc'), 0);
    assert.equal(editSimilarity('kitten', 'sitting'), 1 - 3 / 7);
  });
});
