// The model folder loader on the real default model, and on broken copies of it: every problem
// is a TrellisError that names the file.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TrellisError } from '../../../src/engine/api';
import { loadModelFolder, type LoadedModelFolder } from '../../../src/engine/runtime/modelFolder';
import { loadTokenizerFile } from '../../../src/engine/runtime/tokenizerLoader';
import { MODEL_DIR, modelAvailable } from './helpers';

const load = (dir: string) => loadModelFolder(dir, { loadTokenizer: loadTokenizerFile, threads: 1 });

/** A copy of the model folder in a temp dir (the ONNX graph is linked, not copied, unless asked). */
function copyModel(copyOnnx = false): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-model-'));
  fs.mkdirSync(path.join(dir, 'onnx'));
  for (const f of fs.readdirSync(MODEL_DIR)) {
    const p = path.join(MODEL_DIR, f);
    if (fs.statSync(p).isFile()) fs.copyFileSync(p, path.join(dir, f));
  }
  const onnx = path.join(MODEL_DIR, 'onnx', 'model.onnx');
  if (copyOnnx) fs.copyFileSync(onnx, path.join(dir, 'onnx', 'model.onnx'));
  else fs.symlinkSync(onnx, path.join(dir, 'onnx', 'model.onnx'));
  return dir;
}

async function expectError(dir: string, code: TrellisError['code'], fileName: string, pattern?: RegExp): Promise<TrellisError> {
  try {
    const m = await load(dir);
    m.model.dispose();
  } catch (e) {
    assert.ok(e instanceof TrellisError, `expected a TrellisError, got ${(e as Error).stack}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(fileName), `the message names ${fileName}: ${e.message}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`loading ${dir} should have failed with ${code}`);
}

describe('runtime/modelFolder (real model)', function () {
  const tmp: string[] = [];
  const copy = (copyOnnx = false) => {
    const d = copyModel(copyOnnx);
    tmp.push(d);
    return d;
  };
  let ok: LoadedModelFolder;

  before(async function () {
    if (!modelAvailable()) assert.fail(`the default model is missing: expected ${MODEL_DIR}/onnx/model.onnx`);
    ok = await load(MODEL_DIR);
  });
  after(() => {
    ok?.model.dispose();
    for (const d of tmp) fs.rmSync(d, { recursive: true, force: true });
  });

  it('loads the default model: geometry from config.json, FIM tokens, EOS, banned specials', () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8'));
    assert.equal(ok.geometry.layers, cfg.num_hidden_layers ?? cfg.n_layer);
    assert.equal(ok.geometry.vocabSize, ok.tokenizer.vocabSize);
    assert.ok(ok.fim, 'FIM tokens detected');
    assert.equal(ok.fim!.family, 'starcoder');
    assert.equal(ok.fim!.end, ok.tokenizer.specialTokenId('<|endoftext|>'));
    assert.ok(ok.eosIds.includes(ok.tokenizer.specialTokenId('<|endoftext|>')!));
    assert.ok(ok.bannedIds.includes(ok.tokenizer.specialTokenId('<fim_prefix>')!));
    assert.ok(!ok.bannedIds.includes(ok.fim!.end!));
    assert.ok(!ok.bannedIds.includes(ok.tokenizer.encodeBytes(new TextEncoder().encode('def'))[0]!));
  });

  it('the model card chooses SPM over the default PSM', async () => {
    assert.equal(ok.fimOrder, 'psm');
    const d = copy();
    const cfgPath = path.join(d, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    cfg.trellis = { ...(cfg.trellis ?? {}), fim: { ...(cfg.trellis?.fim ?? {}), default_mode: 'spm' } };
    fs.writeFileSync(cfgPath, JSON.stringify(cfg));
    const m = await load(d);
    try {
      assert.equal(m.fimOrder, 'spm');
    } finally {
      m.model.dispose();
    }
  });

  it('missing folder, config.json, tokenizer.json, tokenizer_config.json or ONNX graph', async () => {
    await expectError(path.join(os.tmpdir(), 'no-such-trellis-model'), 'model_missing_file', 'no-such-trellis-model');
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      const d = copy();
      fs.rmSync(path.join(d, f));
      await expectError(d, 'model_missing_file', f);
    }
    const d = copy();
    fs.rmSync(path.join(d, 'onnx', 'model.onnx'));
    await expectError(d, 'model_missing_file', path.join('onnx', 'model.onnx'));
  });

  it('corrupt JSON files and a truncated graph', async () => {
    const d1 = copy();
    fs.writeFileSync(path.join(d1, 'config.json'), '{"n_layer": 4, ');
    await expectError(d1, 'model_corrupt', 'config.json', /not valid JSON/);
    const d2 = copy();
    fs.writeFileSync(path.join(d2, 'tokenizer.json'), '[1, 2');
    await expectError(d2, 'tokenizer_invalid', 'tokenizer.json');
    const d3 = copy();
    fs.rmSync(path.join(d3, 'onnx', 'model.onnx'));
    const bytes = fs.readFileSync(path.join(MODEL_DIR, 'onnx', 'model.onnx'));
    fs.writeFileSync(path.join(d3, 'onnx', 'model.onnx'), bytes.subarray(0, Math.floor(bytes.length / 3)));
    await expectError(d3, 'model_corrupt', 'model.onnx', /re-export/);
  });

  it('a config.json that does not match the graph lists what was expected and found', async () => {
    const d = copy();
    const cfgPath = path.join(d, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
    const key = 'num_hidden_layers' in cfg ? 'num_hidden_layers' : 'n_layer';
    cfg[key] += 1;
    fs.writeFileSync(cfgPath, JSON.stringify(cfg));
    const e = await expectError(d, 'model_mismatch', 'model.onnx', /expected inputs .*found inputs \[input_ids, attention_mask/);
    assert.match(e.message, new RegExp(`missing inputs: past_key_values\\.${cfg[key] - 1}\\.key`));
    const d2 = copy();
    const cfg2 = JSON.parse(fs.readFileSync(path.join(d2, 'config.json'), 'utf8'));
    for (const k of ['num_attention_heads', 'n_head', 'num_key_value_heads']) if (k in cfg2) cfg2[k] *= 2;
    if ('head_dim' in cfg2) cfg2.head_dim /= 2;
    fs.writeFileSync(path.join(d2, 'config.json'), JSON.stringify(cfg2));
    await expectError(d2, 'model_mismatch', 'config.json');
  });

  it('a tokenizer with more tokens than the model scores', async () => {
    const d = copy();
    const tp = path.join(d, 'tokenizer.json');
    const tj = JSON.parse(fs.readFileSync(tp, 'utf8'));
    const next = ok.tokenizer.vocabSize;
    for (let i = 0; i < 3; i++) tj.added_tokens.push({ id: next + i, content: `<|extra_${i}|>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    fs.writeFileSync(tp, JSON.stringify(tj));
    await expectError(d, 'model_mismatch', 'tokenizer.json', new RegExp(`${next + 3} tokens but the model .* scores only ${next}`));
  });
});
