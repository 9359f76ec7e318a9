// `trellis bench <name>|all`: benchmarks are CLI commands that print numbers (never timed tests).
// Each benchmark registers below with one import + one entry; `bench all` runs every one.
// This file also holds `bench decode`: decode tokens/s and first-token latency on the default
// model over prompts cut from real Python files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine } from '../../engine/engine';
import { measureDecode } from '../../engine/decode/throughput';
import { type Command, UsageError } from '../command';
import { benchTokenizerCommand } from './bench-tokenizer';
import { benchMaskCommand } from './bench-mask';
import { defaultModelDir, parseFlags, round } from './completion-args';

/** A benchmark subcommand: `trellis bench <name> [flags]`. */
export interface Benchmark {
  name: string;
  summary: string;
  /** Flags it accepts, for `trellis bench --help`. */
  usage?: string;
  /** Returns the exit code. `bench all` passes [] plus --json / --model when given. */
  run(argv: string[]): Promise<number>;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Repository Python files used as prompts by default (always present in a clone). */
function defaultPythonFiles(): string[] {
  for (const up of ['..', '../..', '../../..']) {
    const dir = path.resolve(__dirname, up, 'tools', 'train');
    if (fs.existsSync(dir)) {
      return fs.readdirSync(dir).filter((f) => f.endsWith('.py')).sort().map((f) => path.join(dir, f));
    }
  }
  return [];
}

/** Deterministic cursor positions: the ends of lines spread through the file, mid-function. */
function cursorsIn(text: string, count: number): number[] {
  const ends: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) if (i > 0 && text[i - 1] !== '\n') ends.push(i);
  if (ends.length === 0) return [text.length];
  return Array.from({ length: count }, (_, k) => ends[Math.floor(((k + 0.5) * ends.length) / count)]!);
}

const decodeBench: Benchmark = {
  name: 'decode',
  summary: 'decode tokens/s and first-token latency on the default model (median over prompts)',
  usage: '  decode [--model DIR] [--files A.py,B.py] [--prompts N] [--max-tokens N] [--threads N] [--json]',
  async run(argv) {
    const { values } = parseFlags({
      args: argv,
      options: {
        model: { type: 'string' },
        files: { type: 'string' },
        prompts: { type: 'string' },
        'max-tokens': { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
    const files = values.files ? values.files.split(',') : defaultPythonFiles();
    if (files.length === 0) throw new UsageError('bench decode found no Python files; pass --files a.py,b.py');
    const nPrompts = Number(values.prompts ?? 12);
    const maxTokens = Number(values['max-tokens'] ?? 64);
    if (!Number.isInteger(nPrompts) || nPrompts < 1) throw new UsageError('--prompts expects an integer ≥ 1');
    if (!Number.isInteger(maxTokens) || maxTokens < 2) throw new UsageError('--max-tokens expects an integer ≥ 2');
    const threads = values.threads ? Number(values.threads) : undefined;
    const modelDir = values.model ?? defaultModelDir();
    const tLoad = performance.now();
    const engine = await Engine.load(modelDir, { threads });
    const loadMs = performance.now() - tLoad;
    try {
      const texts = files.map((f) => {
        if (!fs.existsSync(f)) throw new UsageError(`file not found: ${f}`);
        return { file: f, text: fs.readFileSync(f, 'utf8') };
      });
      const perFile = Math.max(1, Math.ceil(nPrompts / texts.length));
      const prompts: { prefix: string; suffix: string }[] = [];
      for (const { text } of texts) for (const c of cursorsIn(text, perFile)) prompts.push({ prefix: text.slice(0, c), suffix: text.slice(c) });
      prompts.length = Math.min(prompts.length, nPrompts);
      // Plain decoding at a fixed length: the end tokens are banned so every prompt decodes
      // `maxTokens` tokens (a small model often ends at once at a line end). Grammar, healing and
      // steering have their own benchmarks, reported as ratios over this one.
      const runOne = (p: { prefix: string; suffix: string }, n: number) => measureDecode(engine.model, p.prefix, p.suffix, n);
      await runOne(prompts[0]!, 4); // warm-up
      const results = [];
      for (const p of prompts) results.push(await runOne(p, maxTokens));
      const report = {
        model: engine.info().name,
        prompts: results.length,
        maxTokens,
        threads: engine.model.threads,
        tokensPerSecond: round(median(results.map((r) => r.tokensPerSecond))),
        firstTokenMs: round(median(results.map((r) => r.firstTokenMs))),
        cpuMsPerToken: round(median(results.map((r) => r.cpuMsPerToken)), 3),
        promptTokens: median(results.map((r) => r.promptTokens)),
        generatedTokens: median(results.map((r) => r.generatedTokens)),
        loadMs: round(loadMs),
        loadAverage: round(os.loadavg()[0]!),
        cores: os.cpus().length,
      };
      if (values.json) console.log(JSON.stringify({ bench: 'decode', ...report }));
      else {
        console.log(`bench decode — ${report.model}, ${report.prompts} prompts from ${texts.length} Python files, greedy, ${maxTokens} tokens`);
        console.log(`  decode:      ${report.tokensPerSecond} tokens/s (median over prompts; ${report.generatedTokens} tokens each, end tokens banned)`);
        console.log(`  first token: ${report.firstTokenMs} ms (median; prompt ${report.promptTokens} tokens, prompt building and prefill included)`);
        console.log(`  cpu:         ${report.cpuMsPerToken} ms CPU per token (median, all threads; ≈ ${round(1000 / report.cpuMsPerToken, 1)} tokens/s per idle core)`);
        console.log(`  threads:     ${report.threads}   model load: ${report.loadMs} ms   load average: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
      }
      return 0;
    } finally {
      await engine.dispose();
    }
  },
};

/**
 * Registered benchmarks, in `bench all` order. To add one: import it and add one entry.
 */
export const benchmarks: Benchmark[] = [
  decodeBench,
  { name: 'tokenizer', summary: benchTokenizerCommand.summary, usage: '  tokenizer [--tokenizer NAME|PATH]… [--bytes N] [--repeat N] [--json]', run: (argv) => benchTokenizerCommand.run(argv) },
  { name: 'mask', summary: benchMaskCommand.summary, usage: '  mask [--tokenizer tiny|llama3]… [--mode whole|window|spread|session] [--masks N] [--files N] [--json]', run: (argv) => benchMaskCommand.run(argv) },
];

export const benchCommand: Command = {
  name: 'bench',
  summary: 'run a benchmark (decode, tokenizer, …) or all of them; prints numbers',
  get usage() {
    return [
      'Usage: trellis bench <name> [flags] | trellis bench all [--json] [--model DIR]',
      '',
      'Benchmarks:',
      ...benchmarks.map((b) => `  ${b.name.padEnd(12)} ${b.summary}${b.usage ? `\n    ${b.usage.trim()}` : ''}`),
    ].join('\n');
  },
  async run(argv) {
    const [name, ...rest] = argv;
    if (!name) throw new UsageError(`bench needs a name: ${benchmarks.map((b) => b.name).join(', ')} or all`);
    if (name === 'all') {
      const { values } = parseFlags({ args: rest, options: { json: { type: 'boolean' }, model: { type: 'string' } } });
      let code = 0;
      for (const b of benchmarks) {
        const args = [...(values.json ? ['--json'] : []), ...(values.model && b.usage?.includes('--model') ? ['--model', values.model] : [])];
        if (!values.json) console.log(`\n== bench ${b.name} ==`);
        code = Math.max(code, await b.run(args));
      }
      return code;
    }
    const b = benchmarks.find((x) => x.name === name);
    if (!b) throw new UsageError(`unknown benchmark '${name}'; available: ${benchmarks.map((x) => x.name).join(', ')}, all`);
    return b.run(rest);
  },
};
