import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { check, accepts, matcher } from './helpers';
import { findPackageFile } from '../../../src/engine/grammar/load';

const enc = new TextEncoder();

describe('grammar engine: JSON', () => {
  it('accepts JSON documents and rejects broken ones at the right byte', () => {
    assert.ok(accepts('json', '{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"], "b": {}}'));
    assert.ok(accepts('json', '  [ ]  \n'));
    assert.ok(accepts('json', '{"//": "comment key", "url": "http://x//y"}'));
    assert.deepEqual(check('json', '{"a": }'), { accepted: false, deadAt: 6 });
    assert.deepEqual(check('json', '[1 2]'), { accepted: false, deadAt: 3 });
    assert.deepEqual(check('json', 'truex'), { accepted: false, deadAt: 4 });
    assert.deepEqual(check('json', '[1, 2'), { accepted: false, deadAt: null });
    assert.equal(accepts('json', '{"a" 1}'), false);
  });

  it('accepts real JSON files from node_modules, every prefix viable', () => {
    for (const [pkg, rel] of [['typescript', 'package.json'], ['tree-sitter-json', 'src/node-types.json'], ['tree-sitter-python', 'tree-sitter.json']]) {
      const f = findPackageFile(pkg, rel)!;
      assert.deepEqual(check('json', fs.readFileSync(f, 'utf8')), { accepted: true, deadAt: null }, f);
    }
  });

  it('snapshot/restore, consumeBytes and acceptsSuffix leave the state as promised', () => {
    const m = matcher('json');
    assert.ok(m.consumeBytes(enc.encode('{"a": [1')));
    const snap = m.snapshot();
    assert.equal(m.isAccepting(), false);
    assert.ok(m.acceptsSuffix(enc.encode(']}')));
    assert.equal(m.acceptsSuffix(enc.encode(']]')), false);
    assert.equal(m.consumeBytes(enc.encode('}}')), false, 'a dead suffix is refused');
    assert.ok(m.consumeBytes(enc.encode(', 2]')));
    m.restore(snap);
    assert.ok(m.consumeBytes(enc.encode('0]}')));
    assert.ok(m.isAccepting());
    m.restore(snap);
    assert.ok(m.acceptsSuffix(enc.encode(']}')));
  });

  it('next-lexeme examples (for finishing a cut completion) include what the grammar allows next', () => {
    const cases: [string, string, string[]][] = [
      ['json', '{"a"', [':']],
      ['json', '[1', [',', ']']],
      ['python', 'from a.b', ['import', '.']],
      ['python', 'x = f(a', [')', ',']],
    ];
    for (const [lang, text, want] of cases) {
      const m = matcher(lang);
      assert.ok(m.consumeBytes(enc.encode(text)));
      const ex = m.nextLexemeExamples().map((b) => new TextDecoder().decode(b));
      for (const w of want) assert.ok(ex.includes(w), `${lang} ${JSON.stringify(text)}: ${JSON.stringify(w)} in ${JSON.stringify(ex)}`);
      const snap = m.snapshot();
      for (const e of want) { m.restore(snap); assert.ok(m.consumeBytes(enc.encode(e)) || m.consumeBytes(enc.encode(' ' + e)), `${lang} ${JSON.stringify(text)} + ${JSON.stringify(e)} viable`); }
    }
  });
});
