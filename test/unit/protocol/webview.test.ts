import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseWebviewMessage } from '../../../src/protocol/webview';

const root = path.join(__dirname, '../../..');

describe('protocol: webview messages', () => {
  it('accepts well-formed messages', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseWebviewMessage({ type: 'setSetting', key: 'temperature', value: 0.5 }), { type: 'setSetting', key: 'temperature', value: 0.5 });
    assert.deepEqual(parseWebviewMessage({ type: 'setSetting', key: 'grammarMode', value: 'aligned' }), { type: 'setSetting', key: 'grammarMode', value: 'aligned' });
    assert.deepEqual(parseWebviewMessage({ type: 'setAttribute', name: 'documented', weight: -2.5 }), { type: 'setAttribute', name: 'documented', weight: -2.5 });
    assert.deepEqual(parseWebviewMessage({ type: 'command', command: 'showLogs' }), { type: 'command', command: 'showLogs' });
  });

  it('rejects malformed, out-of-range and unknown messages', () => {
    for (const bad of [
      null, 'ready', [], { type: 'nope' },
      { type: 'setSetting', key: 'temperature', value: 3 },
      { type: 'setSetting', key: 'temperature', value: '0.5' },
      { type: 'setSetting', key: 'maxTokens', value: 10.5 },
      { type: 'setSetting', key: 'grammarMode', value: 'regex' },
      { type: 'setSetting', key: 'modelPath', value: '/tmp/evil' },
      { type: 'setAttribute', name: '__proto__ x', weight: 1 },
      { type: 'setAttribute', name: 'documented', weight: Infinity },
      { type: 'command', command: 'workbench.action.terminal.new' },
    ]) {
      assert.equal(parseWebviewMessage(bad), undefined, JSON.stringify(bad));
    }
  });

  it('layering: the webview imports only the protocol; the pure glue never imports vscode', () => {
    const imports = (file: string) => [...fs.readFileSync(file, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    for (const f of fs.readdirSync(path.join(root, 'src/webview'))) {
      for (const i of imports(path.join(root, 'src/webview', f))) assert.match(i, /^\.\.\/protocol\//, `${f} imports ${i}`);
    }
    for (const f of ['completionCache.ts', 'flight.ts', 'edits.ts', 'settings.ts', 'backoff.ts', 'stats.ts', 'workerClient.ts', 'sidebarHtml.ts']) {
      assert.ok(!imports(path.join(root, 'src/vscode', f)).includes('vscode'), `${f} imports vscode`);
    }
    for (const f of fs.readdirSync(path.join(root, 'src/protocol')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
      for (const i of imports(path.join(root, 'src/protocol', f))) assert.match(i, /^(vscode-jsonrpc|\.\.\/engine\/api|\.\/)/, `${f} imports ${i}`);
    }
  });
});
