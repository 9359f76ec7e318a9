// The run-time attribute labeller (tree-sitter) against hand-written cases and against the
// training labeller (tools/train/label_attrs.py, Python `ast`) on real Python files.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { PythonAttributeLabeller, completedFunctionText } from '../../../src/engine/steering/labels';

const REPO = path.resolve(__dirname, '../../..');
const LABEL_PY = path.join(REPO, 'tools/train/label_attrs.py');

const CASES: [string, Record<string, boolean>][] = [
  ['def f(x):\n    return x\n', { documented: false, typed: false, safe: true }],
  ['def f(x: int) -> int:\n    """Doc."""\n    return x\n', { documented: true, typed: true, safe: true }],
  ['def f(self, *a: int, **k: str) -> None:\n    # why\n    pass\n', { documented: true, typed: true, safe: true }],
  ['def f(a: int, b) -> None:\n    pass\n', { documented: false, typed: false, safe: true }],
  ['def f(a: int = 1, *, b: str) -> None:\n    pass\n', { documented: false, typed: true, safe: true }],
  ['def f(s):\n    return eval(s)\n', { documented: false, typed: false, safe: false }],
  ['def f(c):\n    subprocess.run(c, shell=True)\n', { documented: false, typed: false, safe: false }],
  ['def f(c):\n    subprocess.run(c, shell=False)\n', { documented: false, typed: false, safe: true }],
  ['def f(s):\n    return yaml.load(s)\n', { documented: false, typed: false, safe: false }],
  ['def f(s):\n    return yaml.load(s, Loader=yaml.SafeLoader)\n', { documented: false, typed: false, safe: true }],
  ['def f(n):\n    return __import__(n)\n', { documented: false, typed: false, safe: false }],
  ["def f():\n    return __import__('os')\n", { documented: false, typed: false, safe: true }],
  ["def f() -> None:\n    os.execvp('a', [])\n", { documented: false, typed: true, safe: false }],
  ["def f():\n    f'not {a} doc'\n    return pickle.loads(b)\n", { documented: false, typed: false, safe: false }],
  ['def f():\n    return 1\n# after the function: not its comment\n', { documented: false, typed: false, safe: true }],
];

function pythonAvailable(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(py, ['-c', 'import ast, tokenize'], { stdio: 'ignore' });
      return py;
    } catch {
      /* try the next one */
    }
  }
  return null;
}

describe('steering/labels: attribute labeller', function () {
  let lab: PythonAttributeLabeller;
  before(async () => {
    lab = await PythonAttributeLabeller.load();
  });
  after(() => lab.dispose());

  it('labels hand-written functions as the rules say', () => {
    for (const [src, want] of CASES) assert.deepEqual(lab.label(src)[0]?.labels, want, src);
  });

  it('finds top-level functions and methods of top-level classes only', () => {
    const src = "class A:\n    @property\n    def m(self):\n        def inner(): eval('1')\n        return 1\n\n@dec\ndef g():\n    pass\n";
    assert.deepEqual(lab.label(src).map((u) => [u.qualname, u.labels.safe, u.startLine]), [['A.m', false, 3], ['g', true, 8]]);
  });

  it('labels unfinished generated code (tree-sitter recovers)', () => {
    const text = completedFunctionText('    def load(', 'self, path: str) -> dict:\n        """Load it."""\n        return pickle.loads(open(path, "rb").read(\n    def other(self):\n        pass\n');
    assert.ok(text.startsWith('def load(self, path: str) -> dict:\n'), text);
    assert.ok(!text.includes('other'), 'cut at the next method');
    assert.deepEqual(lab.label(text)[0]?.labels, { documented: true, typed: true, safe: false });
  });

  it('agrees with the Python `ast` labeller on real files', function () {
    const py = pythonAvailable();
    const roots = ['/usr/lib/python3.11', '/usr/lib/python3/dist-packages/yaml'];
    const files: string[] = [];
    for (const r of roots) {
      if (!existsSync(r)) continue;
      for (const f of readdirSync(r).sort()) if (f.endsWith('.py')) files.push(path.join(r, f));
    }
    if (!py || files.length === 0) this.skip();
    // A fixed, spread-out sample: every 9th module of the standard library (~20 files).
    const sample = files.filter((_, i) => i % 9 === 0).slice(0, 30);
    const out = execFileSync(py!, [LABEL_PY, ...sample], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const want = new Map<string, string>();
    for (const line of out.split('\n')) {
      if (!line) continue;
      const d = JSON.parse(line) as { file: string; qualname: string; start: number; labels: Record<string, boolean> };
      want.set(`${d.file}:${d.start}:${d.qualname}`, JSON.stringify(d.labels));
    }
    let units = 0;
    const disagreements: string[] = [];
    for (const f of sample) {
      for (const u of lab.label(readFileSync(f, 'utf8'))) {
        const key = `${f}:${u.startLine}:${u.qualname}`;
        const w = want.get(key);
        if (w === undefined) continue; // a file `ast` could not parse
        units++;
        if (w !== JSON.stringify(u.labels)) disagreements.push(`${key} py=${w} ts=${JSON.stringify(u.labels)}`);
        want.delete(key);
      }
    }
    assert.ok(units > 300, `only ${units} units compared`);
    if (process.env.TRELLIS_VERBOSE) console.log(`      compared ${units} units in ${sample.length} files`);
    assert.deepEqual([...want.keys()].slice(0, 5), [], 'units the Python labeller found and tree-sitter did not');
    assert.deepEqual(disagreements.slice(0, 10), [], `${disagreements.length}/${units} disagreements`);
  });
});
