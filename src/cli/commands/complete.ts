// `trellis complete <file> --at LINE:COL`: one completion at a cursor position, printed as text
// or (--json) as one object with every CompletionResult field and the range it replaces.
import { Engine } from '../../engine/engine';
import { type Command, UsageError } from '../command';
import { parseFlags, completionFlags, completionFlagsUsage, defaultModelDir, gediDirFor, offsetOf, optionsFromFlags, parsePosition, readDocument, resultJson } from './completion-args';

/** Language id from a file extension (for grammar selection). */
export function languageOf(file: string): string {
  const ext = file.toLowerCase().split('.').pop() ?? '';
  const map: Record<string, string> = { py: 'python', pyi: 'python', js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascriptreact', ts: 'typescript', mts: 'typescript', cts: 'typescript', tsx: 'typescriptreact', json: 'json' };
  return map[ext] ?? 'plaintext';
}

export const completeCommand: Command = {
  name: 'complete',
  summary: 'complete the code at a position of a file with the local model',
  usage: `Usage: trellis complete <file> (--at LINE:COL | --line L --col C | --offset N) [options]

Prints the text the model inserts at the position (lines and columns are 1-based; --offset is a
0-based character offset). With healing the text may start by re-spelling characters before the
cursor: --json shows the range it replaces.

Options:
${completionFlagsUsage}
  --language ID         language id (default: from the file extension)`,
  async run(argv) {
    const { values, positionals } = parseFlags({
      args: argv,
      allowPositionals: true,
      options: { ...completionFlags, at: { type: 'string' }, line: { type: 'string' }, col: { type: 'string' }, offset: { type: 'string' }, language: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('complete expects exactly one file; see trellis complete --help');
    const file = positionals[0]!;
    const options = optionsFromFlags(values);
    const text = readDocument(file);
    let cursor: number;
    if (values.at !== undefined) {
      const [l, c] = parsePosition('at', values.at);
      cursor = offsetOf(text, l, c, file);
    } else if (values.line !== undefined || values.col !== undefined) {
      if (values.line === undefined || values.col === undefined) throw new UsageError('--line and --col go together');
      cursor = offsetOf(text, Number(values.line), Number(values.col), file);
    } else if (values.offset !== undefined) {
      cursor = Number(values.offset);
      if (!Number.isInteger(cursor) || cursor < 0) throw new UsageError(`--offset expects an integer ≥ 0, got '${values.offset}'`);
      if (cursor > text.length) throw new UsageError(`--offset ${cursor} is past the end of ${file} (${text.length} characters)`);
    } else {
      throw new UsageError('complete needs a position: --at LINE:COL, --line L --col C or --offset N');
    }
    const engine = await Engine.load(values.model ?? defaultModelDir(), { gediDir: gediDirFor(values, options) });
    try {
      const r = await engine.complete({
        prefix: text.slice(0, cursor),
        suffix: text.slice(cursor),
        languageId: values.language ?? languageOf(file),
        fileName: file,
        options,
      });
      if (values.json) console.log(JSON.stringify(resultJson(r, text, cursor, cursor)));
      else process.stdout.write(r.text.endsWith('\n') ? r.text : `${r.text}\n`);
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};
