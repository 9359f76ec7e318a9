// The default model's training-time encoder (tools/train/bpe.py, pure Python) must produce
// exactly the ids the engine's Tokenizer produces at run time, or the model sees at run time
// token sequences it never saw in training. Runs the real Python encoder on the shipped
// tokenizer.json and compares with src/engine/tokenizer on the same strings.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '../../../src/engine/tokenizer/tokenizer';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL_TOKENIZER = path.join(ROOT, 'models/trellis-code-tiny/tokenizer.json');
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const TEXTS = [
  "def hello(name: str) -> None:\n    print(f'Hello, {name}!')\n",
  'import numpy as np\n\nclass Foo(Bar):\n    """Docs."""\n    x = [1, 2, 3456, 78]\n\n\n',
  "const x = async (a, b) => { return a ?? b; };\n// it's we'll they've\r\n\tif (x !== 0) {}\n",
  'naïve café — 日本語 😀 emoji\u00a0nbsp\u3000ideo \x1c sep\x85nel \ufeffbom  \n   \n',
  '<fim_prefix>def f(x):\n    <fim_suffix>\n    return y<fim_middle>y = x * 2<|endoftext|>',
  '    \n\n\n        x   =  1\n  ',
  '1234567 0x1F 3.14e-10 __init__ self._x ÀÉ¿×',
  // The first lines of this repository's own sources: real, unseen code in both languages.
  fs.readFileSync(path.join(ROOT, 'tools/train/model.py'), 'utf8').slice(0, 3000),
  fs.readFileSync(path.join(ROOT, 'src/engine/tokenizer/tokenizer.ts'), 'utf8').slice(0, 3000),
];

describe('trellis-code-tiny tokenizer: training encoder == engine tokenizer', () => {
  it('gives identical ids for code, whitespace runs, non-ASCII and special tokens', function () {
    if (!fs.existsSync(MODEL_TOKENIZER)) this.skip();
    const r = spawnSync(PYTHON, [path.join(ROOT, 'tools/train/bpe.py'), '--encode-stdin', MODEL_TOKENIZER], {
      input: JSON.stringify(TEXTS),
      encoding: 'utf8',
    });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') this.skip();
    assert.equal(r.status, 0, `tools/train/bpe.py failed: ${r.stderr}`);
    const pyIds = JSON.parse(r.stdout) as number[][];
    const tok = Tokenizer.fromFile(MODEL_TOKENIZER);
    TEXTS.forEach((t, i) => {
      const ids = tok.encode(t, { specialTokens: true });
      assert.ok(ids.length > 0);
      assert.deepEqual(ids, pyIds[i], `ids differ for ${JSON.stringify(t.slice(0, 60))}`);
      assert.equal(tok.decode(ids), t);
    });
  });
});
