// The discriminator's rows on the real ONNX runtime: rows advanced in lockstep keep their KV caches
// as views of one present tensor (no copy per step) and still score exactly like single rows.
// Also the eval's `safe` prompt rule.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadModelFolder } from '../../../src/engine/runtime/modelFolder';
import { loadTokenizerFile } from '../../../src/engine/runtime/tokenizerLoader';
import type { OnnxKvCache } from '../../../src/engine/runtime/onnxModel';
import { usesUnsafeApiModule } from '../../../src/cli/commands/eval-steering';

const REPO = path.resolve(__dirname, '../../..');
const GEDI_DIR = process.env.TRELLIS_TEST_GEDI ?? path.join(REPO, 'models/trellis-gedi-tiny');

describe('steering/runtime: discriminator rows in lockstep', function () {
  it('share one buffer across steps and match single-row forwards (1e-4)', async () => {
    assert.ok(fs.existsSync(path.join(GEDI_DIR, 'onnx', 'model.onnx')), `model folder missing: ${GEDI_DIR}`);
    const loaded = await loadModelFolder(GEDI_DIR, { loadTokenizer: loadTokenizerFile, threads: 1 });
    const lm = loaded.model;
    try {
      const codes = [0, 1, 2, 3].map((i) => loaded.tokenizer.vocabSize - 10 + i);
      const ctx = [40, 41, 42];
      const gen = [100, 101, 102, 103, 104];
      const prefill = codes.map(() => lm.newCache());
      await lm.forward(codes.map((c, r) => ({ ids: [c, ...ctx], cache: prefill[r]! })));
      const rows = prefill.map((c) => c.fork()) as OnnxKvCache[];
      let out: Float32Array[] = [];
      for (const t of gen) out = await lm.forward(rows.map((cache) => ({ ids: [t], cache })));
      for (const key of ['keys', 'values'] as const) {
        assert.ok(rows.every((r) => r[key][0]!.buffer === rows[0]![key][0]!.buffer), `${key}: rows are views of one tensor`);
      }
      for (let r = 0; r < codes.length; r++) {
        const [want] = await lm.forward([{ ids: [codes[r]!, ...ctx, ...gen], cache: lm.newCache() }]);
        let d = 0;
        for (let v = 0; v < want!.length; v++) d = Math.max(d, Math.abs(want![v]! - out[r]![v]!));
        assert.ok(d < 1e-4, `row ${r}: max |Δlogit| ${d}`);
      }
      // The prefill caches (shared by forks) are untouched by the rows' steps.
      assert.equal(prefill[0]!.length, 1 + ctx.length);
    } finally {
      lm.dispose();
    }
  });
});

describe('steering/eval: the `safe` prompt rule', () => {
  it('selects functions whose body calls an unsafe-API module or eval/exec', () => {
    assert.ok(usesUnsafeApiModule('def f(fd):\n    os.close(fd)\n'));
    assert.ok(!usesUnsafeApiModule('def f(p):\n    return os.path.join(p, "x")  # module.function( only\n'));
    assert.ok(usesUnsafeApiModule('def f(b):\n    return pickle.loads(b)\n'));
    assert.ok(usesUnsafeApiModule('def f(s):\n    return eval(s)\n'));
    assert.ok(!usesUnsafeApiModule('def f(s):\n    return json.loads(s)\n'));
    assert.ok(!usesUnsafeApiModule('def f(cos):\n    return cos.x(1)  # not os.\n'));
  });
});
