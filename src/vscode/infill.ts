// "Trellis: Infill Selection": fill-in-the-middle over the selection with several candidates, a
// QuickPick preview (diff-like detail plus an in-editor decoration of the active candidate), and
// the chosen candidate applied as one edit, so one undo reverts it.
import * as vscode from 'vscode';
import { abortSignalOf, type Ctx } from './ctx';
import { candidateLabel, describeChange, infillCandidates, type InfillCandidate } from './edits';
import { PREFIX_CHARS, SUFFIX_CHARS } from './inline';
import { completionOptions } from './settings';
import { StatsLog, toStatsEntry } from './stats';
import { CancelledError } from './workerClient';

interface CandidateItem extends vscode.QuickPickItem {
  candidate: InfillCandidate;
}

export function infillSelection(ctx: Ctx): () => Promise<void> {
  return async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return void vscode.window.showInformationMessage('Trellis: open a file and select the code to fill in.');
    if (editor.selection.isEmpty) return void vscode.window.showInformationMessage('Trellis: select the code to fill in first (the selection is replaced).');
    if (!ctx.ready) return void vscode.window.showWarningMessage(`Trellis: the model is not ready (${ctx.status.detail ?? ctx.status.state}).`);
    const document = editor.document;
    const selection = editor.selection;
    const version = document.version;
    const prefix = document.getText(new vscode.Range(new vscode.Position(0, 0), selection.start));
    const suffix = document.getText(new vscode.Range(selection.end, document.lineAt(document.lineCount - 1).range.end));
    const original = document.getText(selection);
    const settings = ctx.config.all;
    const n = settings.infillCandidates;

    const end = ctx.beginGeneration();
    let results;
    try {
      results = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Trellis: generating ${n} candidate${n > 1 ? 's' : ''}…`, cancellable: true },
        async (_p, token) => {
          const abort = abortSignalOf(token);
          try {
            return await ctx.client.infill(
              { prefix: prefix.slice(-PREFIX_CHARS), suffix: suffix.slice(0, SUFFIX_CHARS), languageId: document.languageId, fileName: document.fileName, options: { ...completionOptions(settings, 'infill'), minTokens: 1 } },
              n,
              abort.signal,
            );
          } finally {
            abort.dispose();
          }
        },
      );
    } catch (err) {
      if (err instanceof CancelledError) return;
      ctx.log.error(`infill failed: ${(err as Error).message}`);
      return void vscode.window.showErrorMessage(`Trellis: infill failed: ${(err as Error).message}`);
    } finally {
      end();
    }
    for (const r of results) {
      const entry = toStatsEntry('infill', document.languageId, r);
      ctx.stats.add(entry);
      ctx.log.info(StatsLog.format(entry));
    }
    const candidates = infillCandidates(results, prefix, original);
    if (candidates.length === 0) return void vscode.window.showInformationMessage('Trellis: the model proposed nothing different from the selection.');

    const chosen = await pick(editor, selection, original, candidates, results.map((r) => `${r.stats.generatedTokens} tok · stop ${r.stopReason}`));
    if (!chosen) return;
    if (document.version !== version) {
      return void vscode.window.showWarningMessage('Trellis: the document changed while the candidates were shown; nothing was applied.');
    }
    const start = document.positionAt(document.offsetAt(selection.start) - chosen.deleteBefore);
    const ok = await editor.edit((b) => b.replace(new vscode.Range(start, selection.end), chosen.text), { undoStopBefore: true, undoStopAfter: true });
    ctx.log.info(`infill applied candidate ${chosen.index + 1} of ${results.length} (${ok ? 'one edit' : 'edit rejected'})`);
  };
}

/** Shows the candidates; the active one is previewed in the editor. */
function pick(editor: vscode.TextEditor, selection: vscode.Selection, original: string, candidates: InfillCandidate[], notes: string[]): Promise<InfillCandidate | undefined> {
  const removed = vscode.window.createTextEditorDecorationType({
    textDecoration: 'line-through',
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
  });
  const added = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('editorGhostText.foreground'), fontStyle: 'italic', margin: '0 0 0 1em' },
  });
  const qp = vscode.window.createQuickPick<CandidateItem>();
  qp.title = 'Trellis: Infill Selection';
  qp.placeholder = 'Pick a candidate to replace the selection (Esc keeps the code as it is)';
  qp.matchOnDetail = true;
  qp.items = candidates.map((c, i) => ({
    label: `$(lightbulb) ${i + 1}. ${candidateLabel(c.text)}`,
    description: notes[c.index],
    detail: describeChange(original, c.text),
    candidate: c,
  }));
  const preview = (item: CandidateItem | undefined) => {
    editor.setDecorations(removed, item ? [selection] : []);
    const first = item ? item.candidate.text.replace(/\r?\n/g, ' ⏎ ') : '';
    editor.setDecorations(added, item ? [{ range: new vscode.Range(selection.end, selection.end), renderOptions: { after: { contentText: `→ ${first.slice(0, 120)}` } } }] : []);
  };
  return new Promise((resolve) => {
    let result: InfillCandidate | undefined;
    qp.onDidChangeActive((items) => preview(items[0]));
    qp.onDidAccept(() => {
      result = qp.selectedItems[0]?.candidate ?? qp.activeItems[0]?.candidate;
      qp.hide();
    });
    qp.onDidHide(() => {
      removed.dispose();
      added.dispose();
      qp.dispose();
      resolve(result);
    });
    qp.show();
  });
}
