// `trellis infill <file> --from LINE:COL --to LINE:COL`: replaces a range with the model's middle
// (fill-in-the-middle), several candidates from one prompt prefill.
import { Engine } from '../../engine/engine';
import { type Command, UsageError } from '../command';
import { languageOf } from './complete';
import { parseFlags, completionFlags, completionFlagsUsage, defaultModelDir, gediDirFor, offsetOf, optionsFromFlags, parsePosition, readDocument, resultJson } from './completion-args';

export const infillCommand: Command = {
  name: 'infill',
  summary: 'replace a range of a file with model-generated code (fill-in-the-middle)',
  usage: `Usage: trellis infill <file> --from LINE:COL --to LINE:COL [--candidates N] [options]

Generates the text between the two positions (1-based) given what comes before and after.
Prints the first candidate (or all, separated by lines of '---'); --json prints the first
candidate's fields plus "candidates": [...].

Options:
  --candidates N        number of candidates (default 1)
${completionFlagsUsage}
  --language ID         language id (default: from the file extension)`,
  async run(argv) {
    const { values, positionals } = parseFlags({
      args: argv,
      allowPositionals: true,
      options: { ...completionFlags, from: { type: 'string' }, to: { type: 'string' }, candidates: { type: 'string' }, language: { type: 'string' } },
    });
    if (positionals.length !== 1) throw new UsageError('infill expects exactly one file; see trellis infill --help');
    if (values.from === undefined || values.to === undefined) throw new UsageError('infill needs --from LINE:COL and --to LINE:COL');
    const file = positionals[0]!;
    const options = optionsFromFlags(values);
    const n = values.candidates === undefined ? 1 : Number(values.candidates);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--candidates expects an integer in 1..64, got '${values.candidates}'`);
    const text = readDocument(file);
    const from = offsetOf(text, ...parsePosition('from', values.from), file);
    const to = offsetOf(text, ...parsePosition('to', values.to), file);
    if (to < from) throw new UsageError(`--to ${values.to} comes before --from ${values.from}`);
    const engine = await Engine.load(values.model ?? defaultModelDir(), { gediDir: gediDirFor(values, options) });
    try {
      const results = await engine.infill({ prefix: text.slice(0, from), suffix: text.slice(to), languageId: values.language ?? languageOf(file), fileName: file, options }, n);
      if (values.json) {
        const all = results.map((r) => resultJson(r, text, from, to));
        console.log(JSON.stringify({ ...all[0], candidates: all }));
      } else {
        process.stdout.write(results.map((r) => (r.text.endsWith('\n') ? r.text : `${r.text}\n`)).join('---\n'));
      }
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};
