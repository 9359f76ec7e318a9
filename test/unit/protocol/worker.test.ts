// The inference worker as the extension uses it: a real child process (src/cli/worker.ts under
// tsx) hosting the real Engine with the default model, driven through WorkerClient over JSON-RPC.
// Checks cancellation (AbortSignal → $/cancelRequest → engine), one generation at a time, crash
// restart with the model loaded again, and errors that name the file.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RestartPolicy } from '../../../src/vscode/backoff';
import { CancelledError, WorkerClient, WorkerError, type Logger } from '../../../src/vscode/workerClient';
import { ENGINE_NODE_FLAGS, engineNodeFlagsFor } from '../../../src/engine/heap';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL_DIR = process.env.TRELLIS_TEST_MODEL ?? path.join(ROOT, 'models', 'trellis-code-tiny');
const PREFIX = 'import os\n\n\ndef list_files(folder):\n    """Return the names of the files in folder."""\n    names = []\n    for name in os.listdir(folder):\n        ';
const SUFFIX = '\n    return names\n';

function logger(lines: string[]): Logger {
  const add = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { trace: add('trace'), debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') };
}

const request = (maxTokens: number, seed = 0) => ({
  prefix: PREFIX,
  suffix: SUFFIX,
  languageId: 'python',
  fileName: 'list_files.py',
  options: { maxTokens, seed, temperature: 0.8, grammar: 'off' as const, healing: 'off' as const, stop: [] },
});

describe('protocol: the inference worker process', function () {
  this.timeout(60_000);
  const lines: string[] = [];
  let client: WorkerClient;

  before(async function () {
    if (!fs.existsSync(path.join(MODEL_DIR, 'onnx', 'model.onnx'))) {
      assert.fail(`the default model is missing: expected ${MODEL_DIR}/onnx/model.onnx (run npm run train, or set TRELLIS_TEST_MODEL)`);
    }
    client = new WorkerClient({
      workerPath: path.join(ROOT, 'src', 'cli', 'worker.ts'),
      execArgv: ['--import', 'tsx'],
      logger: logger(lines),
      policy: new RestartPolicy({ baseMs: 50, maxMs: 200, maxCrashes: 5, windowMs: 60_000 }),
    });
    const info = await client.load({ modelDir: MODEL_DIR });
    assert.equal(info.directory, path.resolve(MODEL_DIR));
    assert.ok(info.vocabSize > 0);
  });

  after(() => client?.dispose());

  it('completes through JSON-RPC and reports statistics', async () => {
    const r = await client.complete(request(8));
    assert.equal(typeof r.text, 'string');
    assert.ok(r.stats.generatedTokens <= 8, `generated ${r.stats.generatedTokens}`);
    assert.ok(r.stats.promptTokens > 0);
    assert.ok(['eos', 'fim_end', 'stop_string', 'max_tokens', 'grammar', 'loop'].includes(r.stopReason), r.stopReason);
    const s = await client.stats();
    assert.equal(s.activeGenerations, 0);
    assert.ok(s.completed >= 1);
    for (const f of ENGINE_NODE_FLAGS) assert.ok(s.nodeFlags.includes(f), `the worker runs with ${f}: ${s.nodeFlags.join(' ')}`);
  });

  it('starts the worker with the engine\'s node flags only where the binary takes them', async () => {
    assert.deepEqual(await engineNodeFlagsFor(process.execPath), ENGINE_NODE_FLAGS);
    // (a binary that fails with them, as an Electron refusing a V8 flag would: no flags)
    assert.deepEqual(await engineNodeFlagsFor('/bin/false'), []);
  });

  it('infill returns n candidates', async () => {
    const rs = await client.infill(request(6), 3);
    assert.equal(rs.length, 3);
  });

  it('an aborted request stops the generation and the worker stays usable', async () => {
    const before = await client.stats();
    const c = new AbortController();
    // 16 candidates of up to 256 tokens: far more work than 30 ms, whatever each candidate does.
    const p = client.infill(request(256), 16, c.signal);
    setTimeout(() => c.abort(), 30);
    const t0 = Date.now();
    await assert.rejects(p, CancelledError);
    assert.ok(Date.now() - t0 < 5000, 'cancellation should not wait for 16 × 256 tokens');
    const after = await client.stats();
    assert.equal(after.activeGenerations, 0);
    assert.ok(after.aborted > before.aborted, 'the worker counted the abort');
    const r = await client.complete(request(4));
    assert.equal(typeof r.text, 'string');
  });

  it('many overlapping requests, all but the last cancelled, never run two generations at once', async () => {
    const controllers: AbortController[] = [];
    const results: Promise<unknown>[] = [];
    for (let i = 0; i < 8; i++) {
      controllers.forEach((c) => c.abort()); // the editor cancels the previous request on each keystroke
      const c = new AbortController();
      controllers.push(c);
      results.push(client.complete(request(8, i), c.signal).catch((e: unknown) => e));
      await new Promise((r) => setTimeout(r, 5));
    }
    const settled = await Promise.all(results);
    assert.ok(settled.slice(0, -1).every((x) => x instanceof CancelledError || (x as { text?: string }).text !== undefined));
    assert.equal(typeof (settled.at(-1) as { text: string }).text, 'string');
    const s = await client.stats();
    assert.equal(s.maxActiveGenerations, 1);
    assert.equal(s.activeGenerations, 0);
  });

  it('restarts after a crash and loads the model again', async () => {
    const pid = client.pid!;
    const startsBefore = client.starts;
    process.kill(pid, 'SIGKILL');
    const ready = new Promise<void>((resolve) => client.onState((s) => s === 'ready' && resolve()));
    await ready;
    assert.notEqual(client.pid, pid);
    assert.equal(client.starts, startsBefore + 1);
    assert.ok(lines.some((l) => /crashed \(SIGKILL\); restarting/.test(l)), lines.join('\n'));
    const r = await client.complete(request(4));
    assert.equal(typeof r.text, 'string');
  });

  it('a bad model folder is an error that names the missing file', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-empty-model-'));
    try {
      await assert.rejects(client.load({ modelDir: empty }), (e: unknown) => e instanceof WorkerError && e.code !== 'internal' && e.message.includes(empty));
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
