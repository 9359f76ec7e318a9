// The ONNX runtime on the real default model: the KV cache, fork/truncate and batching must give
// the same logits as a fresh full forward pass.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createSession, OnnxLanguageModel, sessionSignature } from '../../../src/engine/runtime/onnxModel';
import { validateSignature } from '../../../src/engine/runtime/modelFolder';
import { MODEL_DIR, maxAbsDiff, modelAvailable } from './helpers';

const TOL = 1e-4;

describe('OnnxLanguageModel (real model)', function () {
  let model: OnnxLanguageModel;
  // Token ids spread over the vocabulary, deterministic.
  let ids: number[];

  before(async function () {
    if (!modelAvailable()) {
      assert.fail(`the default model is missing: expected ${MODEL_DIR}/onnx/model.onnx (run npm run train, or set TRELLIS_TEST_MODEL)`);
    }
    const config = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8'));
    const onnxFile = path.join(MODEL_DIR, 'onnx', 'model.onnx');
    const session = await createSession(onnxFile, { threads: 1 });
    model = new OnnxLanguageModel(session, validateSignature(sessionSignature(session), config, onnxFile, 'config.json'));
    ids = Array.from({ length: 24 }, (_, i) => (i * 7919 + 13) % Math.min(model.vocabSize, 3000) + 50);
  });
  after(() => model?.dispose());

  async function full(seq: number[]): Promise<Float32Array> {
    const [all] = await model.forward([{ ids: seq, cache: model.newCache() }], { allPositions: true });
    return all!;
  }
  const row = (all: Float32Array, i: number) => all.subarray(i * model.vocabSize, (i + 1) * model.vocabSize);

  it('incremental decoding with the KV cache equals a fresh full forward (1e-4)', async () => {
    const ref = await full(ids);
    const cache = model.newCache();
    const [first] = await model.forward([{ ids: ids.slice(0, 5), cache }]);
    assert.ok(maxAbsDiff(first!, row(ref, 4)) < TOL);
    assert.equal(cache.length, 5);
    for (let i = 5; i < ids.length; i++) {
      const [l] = await model.forward([{ ids: [ids[i]!], cache }]);
      const d = maxAbsDiff(l!, row(ref, i));
      assert.ok(d < TOL, `position ${i}: max |Δ| = ${d}`);
    }
    assert.equal(cache.length, ids.length);
    // And the logits actually depend on the context (the test could not pass with a constant model).
    assert.ok(maxAbsDiff(row(ref, 3), row(ref, 20)) > 1e-2);
  });

  it('fork and truncate equal recomputation', async () => {
    const base = model.newCache();
    await model.forward([{ ids: ids.slice(0, 12), cache: base }]);
    const branch = base.fork();
    branch.truncate(7);
    assert.equal(branch.length, 7);
    assert.equal(base.length, 12, 'truncating a fork leaves the original intact');
    const alt = [101, 202, 303];
    const [lb] = await model.forward([{ ids: alt, cache: branch }]);
    const ref = await full([...ids.slice(0, 7), ...alt]);
    assert.ok(maxAbsDiff(lb!, row(ref, 9)) < TOL);
    // The original still continues as if nothing happened.
    const [lo] = await model.forward([{ ids: [ids[12]!], cache: base }]);
    const ref2 = await full(ids.slice(0, 13));
    assert.ok(maxAbsDiff(lo!, row(ref2, 12)) < TOL);
    // Forks extended differently do not share new positions.
    const f1 = base.fork();
    const f2 = base.fork();
    const [a] = await model.forward([{ ids: [5], cache: f1 }]);
    const [b] = await model.forward([{ ids: [6], cache: f2 }]);
    const [a2] = await model.forward([{ ids: [7], cache: f1 }]);
    const refA = await full([...ids.slice(0, 13), 5, 7]);
    assert.ok(maxAbsDiff(a2!, row(refA, 14)) < TOL);
    assert.ok(maxAbsDiff(a!, b!) > 1e-3);
  });

  it('batched rows with different past and new lengths equal unbatched runs', async () => {
    const pasts = [ids.slice(0, 3), ids.slice(3, 13), [], ids.slice(5, 6)];
    const news = [[ids[20]!], ids.slice(14, 18), ids.slice(0, 2), [ids[9]!, ids[10]!, ids[11]!]];
    const caches = await Promise.all(
      pasts.map(async (p) => {
        const c = model.newCache();
        if (p.length) await model.forward([{ ids: p, cache: c }]);
        return c;
      }),
    );
    const batched = await model.forward(news.map((n, i) => ({ ids: n, cache: caches[i]! })), { allPositions: true });
    for (let i = 0; i < pasts.length; i++) {
      const ref = await full([...pasts[i]!, ...news[i]!]);
      for (let j = 0; j < news[i]!.length; j++) {
        const d = maxAbsDiff(row(batched[i]!, j), row(ref, pasts[i]!.length + j));
        assert.ok(d < TOL, `row ${i} position ${j}: max |Δ| = ${d}`);
      }
      assert.equal(caches[i]!.length, pasts[i]!.length + news[i]!.length);
    }
    // The caches extended inside the batch continue correctly alone.
    const [next] = await model.forward([{ ids: [42], cache: caches[1]! }]);
    const ref = await full([...pasts[1]!, ...news[1]!, 42]);
    assert.ok(maxAbsDiff(next!, row(ref, ref.length / model.vocabSize - 1)) < TOL);
  });

  it('refuses a row beyond the context length', async () => {
    const c = model.newCache();
    await assert.rejects(model.forward([{ ids: new Array(model.contextLength + 1).fill(1), cache: c }]), /context/);
  });
});
