// The end-to-end checks inside a VS Code desktop window (run by test/e2e/electron.ts): the same
// user flows as the code-server test, through the VS Code API instead of the mouse and keyboard.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrellisApi } from '../../../src/vscode/extension';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function parses(source: string): Promise<boolean> {
  const root = process.env.TRELLIS_ROOT!;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Parser, Language } = require(path.join(root, 'node_modules', 'web-tree-sitter')) as typeof import('web-tree-sitter');
  await Parser.init();
  const parser = new Parser();
  parser.setLanguage(await Language.load(path.join(root, 'node_modules', 'tree-sitter-python', 'tree-sitter-python.wasm')));
  const tree = parser.parse(source)!;
  const ok = !tree.rootNode.hasError;
  tree.delete();
  parser.delete();
  return ok;
}

async function step(name: string, fn: () => Promise<void>): Promise<void> {
  const t0 = Date.now();
  await fn();
  console.log(`  ✔ ${name} (${Date.now() - t0} ms)`);
}

export async function run(): Promise<void> {
  const folder = vscode.workspace.workspaceFolders![0]!.uri;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'shapes.py'));
  const editor = await vscode.window.showTextDocument(doc);
  const ext = vscode.extensions.getExtension<TrellisApi>('trellis-dev.trellis')!;
  const api = await ext.activate();
  await api.whenReady(180_000);

  await step('ghost text is accepted and the file still parses', async () => {
    const end = doc.lineAt(18).range.end;
    await editor.edit((b) => b.insert(end, '\n\n\ndef square_area(side):\n    '));
    const pos = doc.lineAt(22).range.end;
    editor.selection = new vscode.Selection(pos, pos);
    const before = doc.getText();
    for (let i = 0; i < 20 && doc.getText() === before; i++) {
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      await sleep(1500);
      await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
    }
    assert.notEqual(doc.getText(), before, 'no inline completion was accepted');
    assert.ok(await parses(doc.getText()), `does not parse:\n${doc.getText()}`);
  });

  await step('"Infill Selection" applies one undoable edit', async () => {
    const before = doc.getText();
    const line = doc.lineAt(5);
    editor.selection = new vscode.Selection(line.range.start.translate(0, line.firstNonWhitespaceCharacterIndex), line.range.end);
    const done = vscode.commands.executeCommand('trellis.infillSelection');
    await sleep(8000); // generation, then the QuickPick is open
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    await done;
    assert.notEqual(doc.getText(), before, 'no candidate was applied');
    await vscode.commands.executeCommand('undo');
    assert.equal(doc.getText(), before, 'one undo should restore the document');
  });

  await step('a setting change reaches the next request', async () => {
    const cfg = vscode.workspace.getConfiguration('trellis');
    await cfg.update('temperature', 0.4, vscode.ConfigurationTarget.Global);
    assert.equal(vscode.workspace.getConfiguration('trellis').get('temperature'), 0.4);
    await vscode.commands.executeCommand('trellis.sidebar.focus');
  });

  await step('typing fast keeps at most one generation running', async () => {
    const pos = doc.lineAt(doc.lineCount - 1).range.end;
    editor.selection = new vscode.Selection(pos, pos);
    for (const ch of 'values = [10, 20, 30, 40]; print(total(values)) #') {
      await vscode.commands.executeCommand('type', { text: ch });
      await sleep(30);
    }
    await sleep(3000);
    const s = await api.workerStats();
    assert.ok(s.maxActiveGenerations <= 1, `max concurrent generations ${s.maxActiveGenerations}`);
  });
}
