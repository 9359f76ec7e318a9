// GeDi steering through the Engine with the real models: the shipped discriminator
// (models/trellis-gedi-tiny) on the default model (models/trellis-code-tiny).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Engine, defaultPlugins } from '../../../src/engine/engine';
import type { CompletionOptions } from '../../../src/engine/api';
import { TrellisError } from '../../../src/engine/api';
import { loadSteeringModel, steeringPlugins, type SteeringModel } from '../../../src/engine/steering';

const REPO = path.resolve(__dirname, '../../..');
const BASE_DIR = process.env.TRELLIS_TEST_MODEL ?? path.join(REPO, 'models/trellis-code-tiny');
const GEDI_DIR = process.env.TRELLIS_TEST_GEDI ?? path.join(REPO, 'models/trellis-gedi-tiny');

const PROMPTS = [
  'import os\n\n\nclass Store:\n    def __init__(self, root):\n        self.root = root\n\n    def load(',
  'import json\n\n\ndef parse_config(',
  'def add(a, b):\n    return a + b\n\n\ndef scale(',
];

function opts(attributes: Record<string, number>, seed: number): Partial<CompletionOptions> {
  return { temperature: 0.8, topP: 0.95, seed, maxTokens: 24, grammar: 'off', healing: 'off', attributes };
}

describe('steering/engine: GeDi on the real models', function () {
  let engine: Engine;
  let gedi: SteeringModel;

  before(async () => {
    for (const d of [BASE_DIR, GEDI_DIR]) {
      assert.ok(fs.existsSync(path.join(d, 'onnx', 'model.onnx')), `model folder missing: ${d} (run tools/train/train.py / gedi_train.py)`);
    }
    engine = await Engine.load(BASE_DIR, {
      plugins: async (loaded, o) => {
        gedi = await loadSteeringModel(GEDI_DIR, { baseTokenizer: loaded.tokenizer });
        return { ...(await defaultPlugins(loaded, o)), ...steeringPlugins(gedi) };
      },
    });
  });
  after(async () => {
    await engine?.dispose();
  });

  it('discovers the attributes, codes and weights from the manifest', () => {
    const attrs = engine.info().attributes;
    assert.deepEqual(attrs.map((a) => a.name), ['documented', 'typed', 'safe']);
    const doc = attrs[0]!;
    assert.equal(doc.positiveCode, '<|documented|>');
    assert.equal(doc.negativeCode, '<|undocumented|>');
    assert.ok(doc.maxWeight > 0 && Math.abs(doc.defaultWeight) <= doc.maxWeight);
  });

  it('ω = 0 for every attribute is exactly unsteered decoding; ω ≠ 0 changes it', async () => {
    let changed = 0;
    for (let i = 0; i < PROMPTS.length; i++) {
      const req = { prefix: PROMPTS[i]!, suffix: '', languageId: 'python' };
      const plain = await engine.complete({ ...req, options: opts({}, 7 + i) });
      const zero = await engine.complete({ ...req, options: opts({ documented: 0, typed: 0, safe: 0 }, 7 + i) });
      assert.equal(zero.text, plain.text, 'same seed, same tokens');
      assert.equal(zero.stats.generatedTokens, plain.stats.generatedTokens);
      assert.equal(zero.stats.modelCalls, plain.stats.modelCalls);
      const steered = await engine.complete({ ...req, options: opts({ documented: 6, typed: -6 }, 7 + i) });
      if (steered.text !== plain.text) changed++;
    }
    assert.ok(changed > 0, 'steering with |ω| = 6 changed no completion');
  });

  it('runs one batched discriminator pass per generated token for two attributes', async () => {
    const lm = gedi.lm as unknown as { calls: number };
    const before = lm.calls;
    const r = await engine.complete({ prefix: PROMPTS[1]!, suffix: '', languageId: 'python', options: opts({ documented: 3, safe: 3 }, 3) });
    const calls = lm.calls - before;
    // One prefill, then one pass per accepted token (all four rows in it).
    assert.ok(calls >= r.stats.generatedTokens && calls <= r.stats.generatedTokens + 1, `${calls} passes for ${r.stats.generatedTokens} tokens`);
  });

  it('composes with exact healing (forced tokens reach the discriminator)', async () => {
    const r = await engine.complete({
      prefix: 'import os\n\n\ndef read_file(path):\n    with open(pa', suffix: '', languageId: 'python',
      options: { ...opts({ documented: 4 }, 5), healing: 'exact' },
    });
    assert.ok(r.text.length > 0);
    assert.notEqual(r.stopReason, 'aborted');
  });

  it('refuses unknown attributes with the manifest in the message', async () => {
    await assert.rejects(
      engine.complete({ prefix: 'def f(', suffix: '', languageId: 'python', options: opts({ pretty: 2 }, 1) }),
      (e: unknown) => e instanceof TrellisError && /unknown attribute 'pretty'/.test(e.message) && /trellis-attributes\.json/.test(e.message),
    );
  });
});
