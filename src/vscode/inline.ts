// The inline completion provider (ghost text): cache first, then debounce, then one generation
// at a time (a newer request aborts the older one; the CancellationToken reaches the engine's
// AbortSignal through `$/cancelRequest`), then the edit decisions of edits.ts.
import * as vscode from 'vscode';
import { CompletionCache } from './completionCache';
import { abortSignalOf, type Ctx } from './ctx';
import { allowsMultiline, planInlineEdit, shapeText } from './edits';
import { delay, SingleFlight } from './flight';
import { completionOptions, optionsKey } from './settings';
import { StatsLog, toStatsEntry } from './stats';
import { CancelledError } from './workerClient';

/** Characters of context sent to the worker; the engine trims further to `contextTokens`. */
export const PREFIX_CHARS = 12_000;
export const SUFFIX_CHARS = 4_000;

export class InlineProvider implements vscode.InlineCompletionItemProvider {
  readonly cache = new CompletionCache(32);
  readonly flight = new SingleFlight();

  constructor(private readonly ctx: Ctx) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    _context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const { ctx } = this;
    const settings = ctx.config.all;
    if (!settings.enableInline || !ctx.ready) return undefined;
    const line = document.lineAt(position.line).text;
    const linePrefix = line.slice(0, position.character);
    const restOfLine = line.slice(position.character);
    const prefix = document.getText(new vscode.Range(new vscode.Position(0, 0), position));
    const suffix = document.getText(new vscode.Range(position, document.lineAt(document.lineCount - 1).range.end));
    const multiline = allowsMultiline(linePrefix, restOfLine);
    const options = completionOptions(settings, 'inline', !multiline);
    const key = `${document.uri.toString()}|${optionsKey(options)}`;
    const editContext = { linePrefix, restOfLine, suffix: suffix.slice(0, 512) };

    const hit = this.cache.get(key, prefix, suffix);
    if (hit) {
      ctx.log.trace(`cache hit at ${position.line + 1}:${position.character + 1}`);
      return this.items(planInlineEdit(editContext, hit.text, 0), position);
    }

    const abort = abortSignalOf(token);
    try {
      if (!(await delay(settings.debounceMs, abort.signal))) return undefined;
      const end = ctx.beginGeneration();
      const started = performance.now();
      try {
        const result = await this.flight.run(
          (signal) =>
            ctx.client.complete(
              {
                prefix: prefix.slice(-PREFIX_CHARS),
                suffix: suffix.slice(0, SUFFIX_CHARS),
                languageId: document.languageId,
                fileName: document.fileName,
                options,
              },
              signal,
            ),
          abort.signal,
        );
        if (!result) return undefined;
        const entry = toStatsEntry('inline', document.languageId, result);
        ctx.stats.add(entry);
        ctx.log.info(`${StatsLog.format(entry)} (round trip ${Math.round(performance.now() - started)} ms)`);
        // A stand-in end (grammar-derived closing text instead of the model's, when a cut completion
        // could not be ended where the file parses) is not the model's suggestion: show nothing.
        if (result.stats.endRepair === 'stand-in') return undefined;
        // Cached even when this request was cancelled meanwhile: the next keystroke may reuse it.
        this.cache.put(key, prefix, suffix, result.respelledChars, shapeText(result.text, multiline));
        if (token.isCancellationRequested) return undefined;
        return this.items(planInlineEdit(editContext, result.text, result.respelledChars), position);
      } finally {
        end();
      }
    } catch (err) {
      if (err instanceof CancelledError) return undefined;
      ctx.log.warn(`inline completion failed: ${(err as Error).message}`);
      return undefined;
    } finally {
      abort.dispose();
    }
  }

  private items(plan: ReturnType<typeof planInlineEdit>, position: vscode.Position): vscode.InlineCompletionItem[] | undefined {
    if (!plan) return undefined;
    const range = new vscode.Range(position.translate(0, -plan.deleteBefore), position.translate(0, plan.deleteAfter));
    return [new vscode.InlineCompletionItem(plan.insertText, range)];
  }

  /** Forgets cached completions (after a model or settings change). */
  reset(): void {
    this.cache.clear();
    this.flight.cancel();
  }
}
