// The discriminator's own thread (runtime/threadModel.ts): the same logits as the session on the
// engine's thread, through forks and truncations, and errors that come back as rejections.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { loadModelFolder } from '../../../src/engine/runtime/modelFolder';
import { loadTokenizerFile } from '../../../src/engine/runtime/tokenizerLoader';
import { ThreadLanguageModel, modelThreadScript } from '../../../src/engine/runtime/threadModel';

const GEDI = path.resolve(__dirname, '../../../models/trellis-gedi-tiny');

describe('steering: the model thread', function () {
  this.timeout(60_000);

  it('gives the logits of the in-process session, through fork and truncate', async () => {
    const script = modelThreadScript();
    assert.ok(script, 'dist/model-thread.js is built (npm run build)');
    const local = await loadModelFolder(GEDI, { loadTokenizer: loadTokenizerFile, threads: 1 });
    const remote = await ThreadLanguageModel.start(script, { onnxFile: local.onnxFile, geometry: local.geometry, threads: 1 });
    try {
      const a = local.model.newCache(), b = remote.newCache();
      const same = (x: Float32Array[], y: Float32Array[]) => {
        assert.equal(x.length, y.length);
        for (let r = 0; r < x.length; r++) {
          assert.equal(x[r]!.length, y[r]!.length);
          let d = 0;
          for (let i = 0; i < x[r]!.length; i++) d = Math.max(d, Math.abs(x[r]![i]! - y[r]![i]!));
          assert.ok(d < 1e-4, `row ${r}: max difference ${d}`);
        }
      };
      same(await local.model.forward([{ ids: [6, 40, 41, 42], cache: a }]), await remote.forward([{ ids: [6, 40, 41, 42], cache: b }]));
      const a2 = a.fork(), b2 = b.fork();
      same(await local.model.forward([{ ids: [43], cache: a }, { ids: [44, 45], cache: a2 }], { allPositions: true }),
        await remote.forward([{ ids: [43], cache: b }, { ids: [44, 45], cache: b2 }], { allPositions: true }));
      a.truncate(2); b.truncate(2);
      assert.equal(b.length, 2);
      same(await local.model.forward([{ ids: [50], cache: a }]), await remote.forward([{ ids: [50], cache: b }]));
      // a cache of another model is refused
      assert.throws(() => remote.forward([{ ids: [1], cache: a }]), TypeError);
      for (const c of [a, a2, b, b2]) c.dispose();
    } finally {
      remote.dispose();
      local.model.dispose();
    }
    await assert.rejects(remote.forward([{ ids: [1], cache: remote.newCache() }]));
  });

  it('disposed during a forward pass, lets the pass finish and ends itself (no terminate inside onnxruntime)', async () => {
    const script = modelThreadScript();
    assert.ok(script, 'dist/model-thread.js is built (npm run build)');
    const local = await loadModelFolder(GEDI, { loadTokenizer: loadTokenizerFile, threads: 1 });
    local.model.dispose();
    const remote = await ThreadLanguageModel.start(script, { onnxFile: local.onnxFile, geometry: local.geometry, threads: 1 });
    const pass = remote.forward([{ ids: Array.from({ length: 150 }, (_, i) => 30 + i), cache: remote.newCache() }]);
    remote.dispose();
    await assert.rejects(pass, /disposed/);
    // exit code 0: the thread released its session and closed its port (a terminated one exits with 1)
    assert.equal(await remote.exited, 0);
  });
});
