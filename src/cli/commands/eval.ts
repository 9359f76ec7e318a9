// The umbrella commands behind `npm run bench` and `npm run eval`, and the report step:
//   trellis bench-suite  — every benchmark (tokenizer, JSON masks vs XGrammar, masks per language,
//                          decode, memory) → report/bench.json → report
//   trellis eval         — every quality evaluation (grammar modes, healing, steering)
//                          → report/eval.json → report
//   trellis report       — report/bench.json + report/eval.json → report/results.json and the
//                          self-contained report/index.html; optional README table and screenshot.
// Progress goes to stderr; each part runs under a time budget and a failing part is recorded in
// the report instead of stopping the others.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, UsageError } from '../command';
import { parseFlags } from './completion-args';
import { repoRoot } from './bench-tokenizer';
import { renderReport } from '../report/html';
import { buildReport, readmeTable, spliceReadme } from '../report/sections';
import { mergeSuite, partsOf, readJson, runSuite, toJson, type Results, type SuiteKind, type SuiteResult } from '../report/suite';

export interface WriteReportOptions {
  /** Folder of bench.json / eval.json / results.json / index.html (default report/). */
  outDir: string;
  /** Also rewrite the results table between the markers of this README. */
  readme?: string;
  /** Also write a screenshot (headless Chromium) to this PNG. */
  screenshot?: string;
  log?: (line: string) => void;
}

/** The report step: merges the suites' JSON into results.json and renders index.html. */
export async function writeReport(o: WriteReportOptions): Promise<Results> {
  const log = o.log ?? (() => {});
  const res: Results = {
    generatedAt: new Date().toISOString(),
    bench: readJson<SuiteResult>(path.join(o.outDir, 'bench.json')),
    eval: readJson<SuiteResult>(path.join(o.outDir, 'eval.json')),
  };
  fs.mkdirSync(o.outDir, { recursive: true });
  fs.writeFileSync(path.join(o.outDir, 'results.json'), toJson(res));
  const html = path.join(o.outDir, 'index.html');
  fs.writeFileSync(html, renderReport(buildReport(res)));
  log(`report: wrote ${path.join(o.outDir, 'results.json')} and ${html}`);
  if (o.readme) {
    const text = fs.existsSync(o.readme) ? fs.readFileSync(o.readme, 'utf8') : '';
    fs.writeFileSync(o.readme, spliceReadme(text, readmeTable(res)));
    log(`report: results table written into ${o.readme}`);
  }
  if (o.screenshot) {
    const { renderInChromium } = await import('../report/screenshot');
    const r = await renderInChromium(html, o.screenshot, repoRoot());
    log(`report: screenshot ${o.screenshot} (${r.charts} charts, ${r.sections} sections)`);
  }
  return res;
}

const suiteFlags = {
  quick: { type: 'boolean' },
  parts: { type: 'string' },
  model: { type: 'string' },
  out: { type: 'string' },
  'budget-scale': { type: 'string' },
  'no-report': { type: 'boolean' },
  strict: { type: 'boolean' },
} as const;

function suiteCommand(kind: SuiteKind, name: string, summary: string, intro: string): Command {
  const names = partsOf(kind).map((p) => p.name);
  return {
    name,
    summary,
    usage: `Usage: trellis ${name} [--quick] [--parts ${names.join(',')}] [--model DIR] [--out DIR] [--budget-scale X] [--no-report] [--strict]

${intro}
Writes <out>/${kind}.json (default out: report/), then the report step (results.json, index.html).
Each part runs under a time budget; a part that fails or overruns is recorded with its error and
the others still run. Progress on stderr.

  --quick          tiny sizes (a smoke test in about a minute or two)
  --parts LIST     only these parts (the others keep their numbers from the previous run)
  --model DIR      model folder (default: models/trellis-code-tiny)
  --budget-scale X multiply every part's time budget (slow machine: 2)
  --no-report      write ${kind}.json only
  --strict         exit 1 when a part failed (default 0, so "npm run bench && npm run eval"
                   still runs the evaluations; failures are in the report and on stderr)`,
    async run(argv) {
      const { values } = parseFlags({ args: argv, options: suiteFlags });
      const parts = values.parts?.split(',').map((s) => s.trim()).filter(Boolean);
      for (const p of parts ?? []) if (!names.includes(p)) throw new UsageError(`--parts: unknown part '${p}' (${names.join(', ')})`);
      const scale = values['budget-scale'] === undefined ? 1 : Number(values['budget-scale']);
      if (!(scale > 0)) throw new UsageError(`--budget-scale expects a positive number, got '${values['budget-scale']}'`);
      const outDir = path.resolve(values.out ?? path.join(repoRoot(), 'report'));
      const log = (l: string) => process.stderr.write(`${l}\n`);
      const ac = new AbortController();
      const onSig = () => { log(`${name}: interrupted, finishing the current part's record`); ac.abort(); };
      process.once('SIGINT', onSig);
      try {
        const cmd = `node dist/cli.js ${name}${values.quick ? ' --quick' : ''}${parts ? ` --parts ${parts.join(',')}` : ''}`;
        const result = await runSuite(kind, { quick: values.quick, parts, modelDir: values.model, budgetScale: scale, signal: ac.signal, log, command: cmd });
        const file = path.join(outDir, `${kind}.json`);
        fs.mkdirSync(outDir, { recursive: true });
        const merged = parts ? mergeSuite(readJson<SuiteResult>(file), result) : result;
        fs.writeFileSync(file, toJson(merged));
        log(`${name}: wrote ${file} in ${result.seconds} s`);
        if (!values['no-report']) await writeReport({ outDir, log });
        const failed = Object.values(result.parts).filter((p) => p.status !== 'ok');
        for (const p of failed) log(`${name}: part ${p.name} failed: ${p.error}`);
        for (const p of Object.values(result.parts)) console.log(`${kind} ${p.name.padEnd(10)} ${p.status.padEnd(5)} ${String(p.seconds).padStart(7)} s`);
        return failed.length && values.strict ? 1 : 0;
      } finally {
        process.off('SIGINT', onSig);
      }
    },
  };
}

export const evalCommand = suiteCommand('eval', 'eval', 'run every quality evaluation (grammar modes, healing, steering) and write the report',
  'Runs eval-grammar, eval-healing and eval-steering at the sizes shown in report/eval.json\n(seeded, repeatable) on held-out Python files with the default model.');

export const benchSuiteCommand = suiteCommand('bench', 'bench-suite', 'run every benchmark (tokenizer, masks vs XGrammar, decode, memory) and write the report',
  'Runs the tokenizer bench (vs @huggingface/tokenizers), JSON masks vs XGrammar, masks per\nlanguage, plain decode speed and the peak RSS of a CLI completion.');

export const reportCommand: Command = {
  name: 'report',
  summary: 'merge report/bench.json + eval.json into results.json and index.html (README table, screenshot)',
  usage: `Usage: trellis report [--out DIR] [--readme README.md] [--screenshot report/screenshot.png]

Rebuilds <out>/results.json and the self-contained <out>/index.html (default out: report/) from
the last bench-suite and eval runs, without rerunning them.
  --readme FILE      rewrite the results table between <!-- results:start --> and <!-- results:end -->
  --screenshot PNG   render the report in headless Chromium (/usr/bin/chromium) and save a screenshot`,
  async run(argv) {
    const { values } = parseFlags({ args: argv, options: { out: { type: 'string' }, readme: { type: 'string' }, screenshot: { type: 'string' } } });
    const outDir = path.resolve(values.out ?? path.join(repoRoot(), 'report'));
    const res = await writeReport({ outDir, readme: values.readme, screenshot: values.screenshot, log: (l) => process.stderr.write(`${l}\n`) });
    if (!res.bench && !res.eval) process.stderr.write(`report: no ${path.join(outDir, 'bench.json')} or eval.json yet — run npm run bench / npm run eval\n`);
    return 0;
  },
};
