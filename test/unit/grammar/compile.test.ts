import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadGrammar, clearGrammarMemory } from '../../../src/engine/grammar';
import { defaultCacheDir } from '../../../src/engine/grammar/load';
import { TrellisError } from '../../../src/engine/api';
import { utf8Sequences, regexToByteDfa, denseTable, dfaMatches } from '../../../src/engine/grammar/passes/lexemes';

describe('grammar compiler', () => {
  // scratch folders of these tests, removed after them
  const scratch: string[] = [];
  const tmp = (prefix: string) => { const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); scratch.push(d); return d; };
  after(() => { for (const d of scratch) fs.rmSync(d, { recursive: true, force: true }); });

  it('rejects an unknown language with grammar_unknown_language', () => {
    assert.throws(() => loadGrammar('cobol'), (e: unknown) => e instanceof TrellisError && e.code === 'grammar_unknown_language' && /cobol/.test(e.message) && /python/.test(e.message));
  });

  it('names the rule and the file when a regex cannot be compiled', () => {
    const dir = tmp('trellis-g-');
    const file = path.join(dir, 'grammar.json');
    fs.writeFileSync(file, JSON.stringify({ name: 'bad', rules: { doc: { type: 'SYMBOL', name: 'word' }, word: { type: 'PATTERN', value: '(?<=a)b' } } }));
    assert.throws(() => loadGrammar('bad', { grammarFile: file, noCache: true }),
      (e: unknown) => e instanceof TrellisError && e.code === 'grammar_invalid' && e.message.includes(file) && e.message.includes('"word"'));
  });

  it('rejects a grammar.json that is not a grammar, naming the file', () => {
    const dir = tmp('trellis-g-');
    const file = path.join(dir, 'grammar.json');
    fs.writeFileSync(file, '{"rules": 3}');
    assert.throws(() => loadGrammar('bad2', { grammarFile: file, noCache: true }),
      (e: unknown) => e instanceof TrellisError && e.code === 'grammar_invalid' && e.message.includes(file));
  });

  it('caches compiled grammars on disk and loads them back identically', () => {
    const cacheDir = tmp('trellis-cache-');
    clearGrammarMemory();
    const a = loadGrammar('json', { cacheDir });
    assert.equal(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.json')).length, 1);
    clearGrammarMemory();
    const t0 = performance.now();
    const b = loadGrammar('json', { cacheDir });
    const ms = performance.now() - t0;
    assert.deepEqual(b, a);
    assert.ok(ms < 1000, `cached load took ${ms} ms`);
  });

  it('caches in the user\'s own cache folder, or where TRELLIS_CACHE_DIR says, never a shared temporary folder', () => {
    const saved = { TRELLIS_CACHE_DIR: process.env.TRELLIS_CACHE_DIR, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };
    try {
      delete process.env.TRELLIS_CACHE_DIR;
      delete process.env.XDG_CACHE_HOME;
      const dir = defaultCacheDir();
      assert.ok(dir.startsWith(os.homedir()) && dir.includes('trellis'), dir);
      assert.ok(!dir.startsWith(os.tmpdir()), dir);
      if (process.platform === 'linux') {
        process.env.XDG_CACHE_HOME = '/x/cache';
        assert.equal(defaultCacheDir(), path.join('/x/cache', 'trellis'));
      }
      process.env.TRELLIS_CACHE_DIR = '/y/grammars';
      assert.equal(defaultCacheDir(), '/y/grammars');
    } finally {
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    }
  });

  it('encodes code point ranges as UTF-8 byte sequences exactly', () => {
    const ranges = [[0, 0x7f], [0x80, 0x7ff], [0x100, 0x110], [0x7ff, 0x800], [0xd000, 0xe100], [0xffff, 0x10010], [0x10000, 0x10ffff], [0x3b1, 0x3c9]];
    const enc = new TextEncoder();
    for (const [lo, hi] of ranges) {
      const seqs = utf8Sequences(lo, hi);
      const inSeq = (bytes: Uint8Array) => seqs.some((s) => s.length === bytes.length && s.every(([a, b], i) => bytes[i] >= a && bytes[i] <= b));
      for (let k = 0; k < 400; k++) {
        const cp = k < 200 ? lo + Math.floor(((hi - lo) * k) / 199) : Math.floor(Math.random() * 0x110000);
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        const bytes = enc.encode(String.fromCodePoint(cp));
        assert.equal(inSeq(bytes), cp >= lo && cp <= hi, `U+${cp.toString(16)} in [${lo.toString(16)}, ${hi.toString(16)}]`);
      }
    }
  });

  it('byte DFAs match what JavaScript regexes match, including \\p{…} classes', () => {
    const cases: [string, string[]][] = [
      ['[_\\p{ID_Start}][_\\p{ID_Continue}]*', ['x', '_a1', 'été', 'Ωmega', '1x', '', 'a-b', '变量名', '𝑥']],
      ['"(?:[^"\\\\\\n]|\\\\.)*"', ['""', '"a\\"b"', '"a', '"\\n"', '"é"']],
      ['0[xX][0-9a-fA-F]+|[0-9]+(?:\\.[0-9]*)?', ['0x1F', '12.5', '12.', '.5', '0x']],
    ];
    const enc = new TextEncoder();
    for (const [src, samples] of cases) {
      const dfa = regexToByteDfa(src, '', 'test');
      const table = denseTable(dfa);
      const re = new RegExp(`^(?:${src})$`, 'u');
      for (const s of samples) assert.equal(dfaMatches(dfa, table, enc.encode(s)), re.test(s), `${src} on ${JSON.stringify(s)}`);
    }
  });
});
