// Healing on the real default model: the byte-level scorer is a distribution (next-byte
// probabilities of a real model sum to about 1 once invalid covers are dropped), exact healing
// through the Engine re-spells the tail, and the eval command runs end to end on a few cursors.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { Engine } from '../../../src/engine/engine';
import { ByteLevelScorer } from '../../../src/engine/healing';
import { loadModelFolder, type LoadedModelFolder } from '../../../src/engine/runtime/modelFolder';
import { loadTokenizerFile } from '../../../src/engine/runtime/tokenizerLoader';
import { runHealingEval } from '../../../src/cli/commands/eval-healing';
import { MODEL_DIR, modelAvailable } from '../runtime/helpers';

const enc = new TextEncoder();

describe('healing on the real default model', function () {
  this.timeout(180_000);
  let loaded: LoadedModelFolder;

  before(async function () {
    if (!modelAvailable()) assert.fail(`the default model is missing: expected ${MODEL_DIR}/onnx/model.onnx (run npm run train, or set TRELLIS_TEST_MODEL)`);
    loaded = await loadModelFolder(MODEL_DIR, { loadTokenizer: loadTokenizerFile, threads: 1 });
  });
  after(() => loaded?.model.dispose());

  it('next-byte distribution after a mid-token prompt is a distribution (Σ ≈ 1) and prefers the right byte', async () => {
    const scorer = new ByteLevelScorer(loaded.model, loaded.tokenizer, { endTokens: loaded.eosIds, tolerance: 1e-6 });
    const head = await scorer.prefill([loaded.eosIds[0] ?? 0]);
    const prompt = enc.encode('import os\nimport sys\n\n\ndef main():\n    args = sys.argv[1:]\n    for a in ar');
    const d = await scorer.nextByteDistribution(head, prompt);
    let sum = d.end;
    for (const p of d.probs) sum += p;
    assert.ok(Math.abs(sum - 1) < 0.05, `Σ P(next byte) = ${sum}`);
    const top2 = [...d.probs.keys()].sort((a, b) => d.probs[b]! - d.probs[a]!).slice(0, 2).map((b) => String.fromCharCode(b));
    assert.ok(top2.includes('g'), `for a in ar → g(s): top bytes ${JSON.stringify(top2)}`);
    head.cache.dispose();
  });

  it('Engine with healing exact: the completion re-spells the tail and reports it', async () => {
    const engine = await Engine.load(MODEL_DIR);
    try {
      const prefix = 'import sys\n\n\ndef main():\n    for arg in sys.ar';
      const r = await engine.complete({ prefix, suffix: '\n', languageId: 'python', options: { healing: 'exact', grammar: 'off', temperature: 0, maxTokens: 6 } });
      assert.equal(r.stats.healing, 'exact');
      assert.ok(r.respelledChars >= 2, `respelled ${r.respelledChars}`);
      assert.ok(r.text.startsWith(prefix.slice(prefix.length - r.respelledChars)), JSON.stringify(r.text));
      assert.ok(r.stats.healingCovers > 1);
    } finally {
      await engine.dispose();
    }
  });

  it('eval-healing runs end to end on a few cursors', async () => {
    const rep = await runHealingEval({
      modelDir: MODEL_DIR,
      files: [path.resolve(__dirname, '../../../tools/train/corpus.py')],
      maxFiles: 1,
      positions: 3,
      seed: 1,
      modes: ['off', 'token', 'exact'],
      layout: 'plain',
      contextTokens: 96,
      continuationBytes: 16,
      maxTokens: 8,
      maxFileBytes: 1_000_000,
    });
    assert.equal(rep.rows.length, 3);
    for (const r of rep.rows) {
      assert.equal(r.positions, 3);
      assert.ok(Number.isFinite(r.logLikelihoodPerByte) && r.logLikelihoodPerByte < 0, `${r.mode}: ${r.logLikelihoodPerByte}`);
      assert.ok(r.firstByteMs > 0);
    }
    const exact = rep.rows.find((r) => r.mode === 'exact')!;
    assert.ok(exact.healingCalls >= 1 && exact.covers > 1 && exact.tailBytes >= 2);
    assert.equal(rep.rows.find((r) => r.mode === 'off')!.healingCalls, 0);
  });
});
