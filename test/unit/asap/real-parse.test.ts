// Grammar modes with the real model, the real Python grammar and real tree-sitter: completions at
// cursors where the tiny model tends to drift (mid-identifier in a def header, inside a call,
// after a block header whose docstring continues below) with a small token budget, so that most
// are cut. Every completion must leave prefix + completion + suffix parsing without error, by
// ending where the grammar allows, within the grace tokens, by trimming or closing, or with a
// stand-in middle — and stats.endRepair must say which.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { Engine } from '../../../src/engine/engine';
import type { GrammarMode } from '../../../src/engine/api';
import { defaultGraceTokens } from '../../../src/engine/decode/grammar-select';
import { errorCount, pythonParser, type TsParser } from '../../../src/cli/commands/eval-grammar';

const MODEL_DIR = path.resolve(__dirname, '../../../models/trellis-code-tiny');

const SRC = `from sympy import Symbol, ratint, log, atan

x = Symbol('x')


def test_ratint():
    assert ratint(1/(x**2 + 1), x) == atan(x)
    assert ratint(x/(x**2 + 1), x) == log(x**2 + 1)/2


class Color:
    red_float = property(fget=lambda self: self.red / float(self.MAX_VALUE),
                         fset=lambda self, v: setattr(self, 'red', int(v * self.MAX_VALUE)))

    def union(self, o):  # noqa: F811
        """Returns the union of self and o
        for use with sets. """
        return o

    styles = {
        'comment': '#888888',
        'keyword': 'bold #008800',
    }
`;

/** Cursor at the end of `before`, the real middle running to the end of that line. */
function cut(before: string): { prefix: string; suffix: string } {
  const at = SRC.indexOf(before);
  assert.ok(at >= 0, before);
  const cursor = at + before.length;
  const eol = SRC.indexOf('\n', cursor);
  return { prefix: SRC.slice(0, cursor), suffix: SRC.slice(eol) };
}

const CURSORS = [
  cut('def test_ra'), // mid-identifier in a def header: "tint():" removed
  cut('    assert ratint(1/(x**2 + 1), x) == at'), // inside an expression
  cut("        'comment': '#8"), // inside a string in a dict
  { prefix: SRC.slice(0, SRC.indexOf('# noqa: F811') + '# noqa: F811'.length), suffix: SRC.slice(SRC.indexOf('\n        for use')) }, // docstring's first line removed
];

describe('grammar modes on real Python: every completion parses (real model, tree-sitter)', function () {
  this.timeout(300_000);
  let engine: Engine;
  let parser: TsParser;
  before(async () => {
    engine = await Engine.load(MODEL_DIR, { threads: 1 });
    parser = await pythonParser();
  });
  after(async () => {
    parser.delete();
    await engine.dispose();
  });

  it('the file parses as written (the test checks only what the completions add)', () => {
    assert.equal(errorCount(parser, SRC), 0);
  });

  for (const mode of ['mask', 'aligned'] as GrammarMode[]) {
    it(`${mode}: prefix + completion + suffix parses at every cursor, cut or not`, async () => {
      const maxTokens = 6;
      const repairs = new Map<string, number>();
      for (const [i, c] of CURSORS.entries()) {
        for (let seed = 0; seed < 3; seed++) {
          const r = await engine.complete({ prefix: c.prefix, suffix: c.suffix, languageId: 'python', options: { grammar: mode, healing: 'off', maxTokens, temperature: 0.8, seed } });
          const doc = c.prefix + r.text + c.suffix;
          assert.equal(errorCount(parser, doc), 0, `cursor ${i} seed ${seed}: ${JSON.stringify(r.text)} (${r.stopReason}, ${r.stats.endRepair}) does not parse`);
          assert.equal(r.stats.suffixCheck, 'full');
          assert.notEqual(r.stats.endRepair, 'failed');
          assert.ok((r.stats.graceTokens ?? 0) <= defaultGraceTokens(maxTokens), 'grace is bounded');
          assert.ok(r.stats.generatedTokens <= maxTokens + defaultGraceTokens(maxTokens));
          if (r.stopReason === 'max_tokens' || r.stopReason === 'loop') repairs.set(r.stats.endRepair ?? 'none', (repairs.get(r.stats.endRepair ?? 'none') ?? 0) + 1);
          else assert.equal(r.stats.endRepair ?? 'none', 'none', 'a completion that ended with an end token was not repaired');
        }
      }
      // The small budget cuts most completions: the test exercises the repairs, not only clean ends.
      const cutCount = [...repairs.values()].reduce((a, b) => a + b, 0);
      assert.ok(cutCount >= 4, `only ${cutCount} completions were cut: ${[...repairs]}`);
      const graced = (repairs.get('grace') ?? 0) + (repairs.get('close') ?? 0);
      assert.ok(graced > 0, `no cut completion was finished (grace or close) rather than replaced: ${[...repairs]}`);
    });
  }
});
