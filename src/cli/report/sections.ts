// Turns report/results.json into the report's sections (tables + inline-SVG charts) and the
// README's results table. Only reads the JSON written by suite.ts; a missing or failed part
// becomes a section that says so.
import type { BarChart, Chart, QuantileChart, Report, ReportSection, ReportTable } from './html';
import type { PartResult, Results, SuiteResult } from './suite';
import type { TokenizerBenchResult } from '../commands/bench-tokenizer';
import { NODES_MANY, ROWS_MANY, type MaskBenchRow } from '../commands/bench-mask';
import type { XGrammarBenchResult } from '../commands/bench-xgrammar';
import type { GrammarEvalReport } from '../commands/eval-grammar';
import type { HealingEvalReport } from '../commands/eval-healing';
import type { SteeringEvalReport } from '../commands/eval-steering';

interface DecodeData { model: string; threads: number; loadMs: number; tokensPerSecond: number; firstTokenMs: number; promptTokens: number; firstTokenMsQuantiles?: { p50: number; p99: number; max: number }; samples: unknown[] }
interface MemoryData { command: string; peakRssMiB: number; wallMs: number; generatedTokens?: number; modelFileMiB: number; grammar: string; healing: string; runsMiB?: number[] }

const r2 = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
const pct = (x: number | null | undefined): string => (typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function part<T>(suite: SuiteResult | undefined, name: string): { p?: PartResult; data?: T } {
  const p = suite?.parts[name];
  return { p, data: p?.status === 'ok' ? (p.data as T) : undefined };
}

function sizes(p: PartResult | undefined): string {
  if (!p) return '';
  const kv = Object.entries(p.params).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`).join(', ');
  return ` Sizes: ${kv}; took ${p.seconds} s.`;
}

/** A section for a part that did not run or failed. */
function missing(id: string, title: string, description: string, reproduce: string, p: PartResult | undefined): ReportSection {
  return {
    id, title, description, reproduce, tables: [], charts: [],
    notes: [p ? `This part failed in the last run: ${p.error ?? 'no data'}` : 'Not measured yet: run the command above.'],
  };
}

function xgrammarSection(bench?: SuiteResult): ReportSection {
  const id = 'json-masks', title = 'JSON token masks: Trellis vs XGrammar';
  const description = 'Microseconds to compute the full token mask at teacher-forced positions of real package.json files from node_modules, with the same token ids for both engines, at two vocabularies: the default model\'s (trellis-code-tiny) and Llama-3\'s 128,256 tokens. Peer: XGrammar (@mlc-ai/web-xgrammar, the WASM build WebLLM uses) with its builtin JSON grammar, in the same process and run. Ratio = Trellis ÷ XGrammar (below 1: Trellis is faster).';
  const reproduce = 'node dist/cli.js bench-xgrammar   (or: npm run bench)';
  const { p, data } = part<XGrammarBenchResult>(bench, 'xgrammar');
  if (!data) return missing(id, title, description, reproduce, p);
  const q: QuantileChart = { kind: 'quantiles', title: 'µs per JSON mask (p50 / p99 / max)', unit: 'µs', rows: [] };
  const ratio: BarChart = { kind: 'bars', title: 'Trellis ÷ XGrammar, µs per mask (1 = equal)', unit: '×', bars: [], reference: 1 };
  const t: ReportTable = { columns: ['vocabulary', 'tokens', 'Trellis p50 µs', 'p99', 'max', 'XGrammar p50 µs', 'p99', 'max', 'ratio p50', 'ratio p99', 'XGrammar compile ms', 'Trellis compile ms', 'masks'], rows: [] };
  for (const r of data.rows) {
    const tr = r.trellis;
    if (tr) q.rows.push({ label: `Trellis · ${r.vocabulary}`, ...tr.maskUs });
    q.rows.push({ label: `XGrammar · ${r.vocabulary}`, ...r.xgrammarMaskUs });
    if (finite(r.ratio.p50)) ratio.bars.push({ label: `${r.vocabulary} p50`, value: r.ratio.p50, group: 'p50' });
    if (finite(r.ratio.p99)) ratio.bars.push({ label: `${r.vocabulary} p99`, value: r.ratio.p99, group: 'p99' });
    t.rows.push([r.vocabulary, r.vocabSize, tr?.maskUs.p50 ?? null, tr?.maskUs.p99 ?? null, tr?.maskUs.max ?? null, r.xgrammarMaskUs.p50, r.xgrammarMaskUs.p99, r.xgrammarMaskUs.max, r2(r.ratio.p50), r2(r.ratio.p99), r.xgrammarCompileMs, tr?.compileMs ?? null, r.xgrammarMaskUs.n]);
  }
  return {
    id, title, description: description + sizes(p), reproduce, tables: [t], charts: [q, ratio],
    notes: [data.note, `Files: ${data.files.join(', ')}.`, ...data.rows.filter((r) => r.rejected || r.trellis?.rejected).map((r) => `${r.vocabulary}: XGrammar rejected ${r.rejected}, Trellis rejected ${r.trellis?.rejected ?? '—'} teacher-forced tokens (each ends that file's run).`)],
  };
}

function masksSection(bench?: SuiteResult): ReportSection {
  const id = 'masks', title = 'Token masks per language (Trellis)';
  const description = 'Microseconds per full token mask and per single-token allows() check while teacher-forcing real Python (standard library), JavaScript and TypeScript (sources shipped in node_modules: the mocha runner, the minified refa bundle, onnxruntime-common) files, at the default model\'s and Llama-3\'s vocabularies: a mask at every token of each file\'s first 24 kB, from its start, as one decode loop over the file asks for them (the memos start empty for each language); the share of masks that took over a millisecond (a p99 of 1 ms needs it under 1%); the share answered by the exact memo and by the core memo (same kernel positions, history-dependent subtrees walked again); the masks over a millisecond and those among the slowest 1% by how they were answered (exact memo, core memo, the core memo with a replay that also filled a memo keyed by the rows behind, or a walk of the trie) and what the parser state was in (a lexeme that may end into a parser row, a pending scanner run such as a line\'s indentation, whitespace or a comment in progress, a lexeme start); the slowest 1% of the masks (median) next to an exact walk of the same parser states once every cache is warm (no memo: what the walk itself costs, apart from building parser rows, lexer states and vocabulary tables the first time); the parser rows (Earley sets) each mask built, met for the first time, with the median cost per row built of the masks that built ' + ROWS_MANY + ' or more, and how many of the masks over a millisecond built ' + ROWS_MANY + ' or more; the vocabulary-trie nodes each mask stepped (p99, and the median of the slowest 1%) with the median cost per node of the masks that stepped ' + NODES_MANY + ' or more (a 1 ms p99 at the p99 of nodes allows 1000 µs over that many); grammar compile time and the time to load the compiled grammar from the on-disk cache.';
  const reproduce = 'node dist/cli.js bench-mask';
  const { p, data } = part<MaskBenchRow[]>(bench, 'masks');
  if (!data) return missing(id, title, description, reproduce, p);
  const q: QuantileChart = { kind: 'quantiles', title: 'µs per mask (p50 / p99 / max)', unit: 'µs', rows: data.map((r) => ({ label: `${r.language} · ${r.vocabulary}`, ...r.maskUs })) };
  const t: ReportTable = {
    columns: ['language', 'vocabulary', 'V', 'files', 'tokens', 'rejected', 'mask p50 µs', 'p99', 'max', 'share over 1 ms', 'slowest 1% median µs', 'same states walked warm µs', 'rows built per mask p50', 'p99', 'µs per row built', `over 1 ms that built ${ROWS_MANY}+ rows`, 'trie nodes stepped per mask p99', 'slowest 1% median nodes', 'µs per node', 'allows p50 µs', 'allowed share', 'memo hits', 'core hits', 'compile ms', 'cached load ms'],
    rows: data.map((r) => [r.language, r.vocabulary, r.vocabSize, r.files, r.tokens, r.rejected, r.maskUs.p50, r.maskUs.p99, r.maskUs.max, r.over1msShare ?? null, r.slowest?.maskUs ?? null, r.slowest?.warmWalkUs ?? null, r.rowsBuilt?.perMask.p50 ?? null, r.rowsBuilt?.perMask.p99 ?? null, r.rowsBuilt?.usPerRow ?? null, r.rowsBuilt?.over1msMany ?? null, r.nodesStepped?.perMask.p99 ?? null, r.nodesStepped?.slowestMedian ?? null, r.nodesStepped?.usPerNode ?? null, r.allowsUs.p50, r.allowedFraction, r.memoHitRate ?? null, r.coreHitRate ?? null, r.compileMs, r.cachedLoadMs]),
  };
  const perFile: ReportTable = {
    columns: ['language', 'vocabulary', 'file', 'masks', 'mask p50 µs', 'p99', 'max'],
    rows: data.flatMap((r) => (r.byFile ?? []).map((b) => [r.language, r.vocabulary, b.file, b.maskUs.n, b.maskUs.p50, b.maskUs.p99, b.maskUs.max])),
  };
  // Where the masks over 1 ms and the slowest 1% come from (benchmarks before these fields have none).
  const kinds: ReportTable = {
    columns: ['language', 'vocabulary', 'answered by', 'state', 'masks', 'over 1 ms', 'share of the row\'s masks over 1 ms', 'among the slowest 1%'],
    rows: data.flatMap((r) => {
      const slow = (r.byKind ?? []).filter((k) => k.over1ms > 0 || (k.slowest1pct ?? 0) > 0);
      const total = slow.reduce((n, k) => n + k.over1ms, 0);
      return slow.map((k) => [r.language, r.vocabulary, k.answer, k.state, k.masks, k.over1ms, total ? Math.round((k.over1ms / total) * 100) / 100 : null, k.slowest1pct ?? null]);
    }),
  };
  const compile: BarChart = { kind: 'bars', title: 'Grammar compile vs cached load (ms)', unit: 'ms', bars: [] };
  const seen = new Set<string>();
  for (const r of data) {
    if (seen.has(r.language)) continue;
    seen.add(r.language);
    compile.bars.push({ label: `${r.language} compile`, value: r.compileMs, group: 'compile' }, { label: `${r.language} cached load`, value: r.cachedLoadMs, group: 'cached' });
  }
  const tables = [t];
  if (perFile.rows.length) tables.push(perFile);
  if (kinds.rows.length) tables.push(kinds);
  return { id, title, description: description + sizes(p), reproduce, tables, charts: [q, compile] };
}

function sessionSection(bench?: SuiteResult): ReportSection {
  const id = 'mask-session', title = 'Token masks over a long session (Trellis)';
  const description = 'The same masks as above, over many files one after another in one grammar runtime, as an editor session that has been open a while asks for them: 45 other real files per language (Python\'s standard library; JavaScript and TypeScript sources in node_modules, minified ones left out), the first 12 kB of each, a mask at every token, at Llama-3\'s vocabulary. "From file" on, the memos have met code of the language before; the size is what the runtime\'s mask memos hold at the end.';
  const reproduce = 'node dist/cli.js bench-mask --mode session --tokenizer llama3';
  const { p, data } = part<MaskBenchRow[]>(bench, 'mask-session');
  if (!data) return missing(id, title, description, reproduce, p);
  const t: ReportTable = {
    columns: ['language', 'vocabulary', 'files', 'masks', 'mask p50 µs', 'p99', 'max', 'share over 1 ms', 'from file', 'masks', 'p50 µs', 'p99', 'max', 'share over 1 ms', 'memos MiB'],
    rows: data.map((r) => [r.language, r.vocabulary, r.files, r.maskUs.n, r.maskUs.p50, r.maskUs.p99, r.maskUs.max, r.over1msShare, r.warm?.fromFile ?? null, r.warm?.masks ?? null, r.warm?.maskUs.p50 ?? null, r.warm?.maskUs.p99 ?? null, r.warm?.maskUs.max ?? null, r.warm?.over1msShare ?? null, r.memoMiB ?? null]),
  };
  const q: QuantileChart = { kind: 'quantiles', title: 'µs per mask from the first third of the files on (p50 / p99 / max)', unit: 'µs', rows: data.filter((r) => r.warm).map((r) => ({ label: `${r.language} · ${r.vocabulary}`, ...r.warm!.maskUs })) };
  return { id, title, description: description + sizes(p), reproduce, tables: [t], charts: [q] };
}

function tokenizerSection(bench?: SuiteResult): ReportSection {
  const id = 'tokenizer', title = 'Tokenizer: Trellis vs @huggingface/tokenizers';
  const description = 'Encode throughput (MB/s, median of warm runs) of Trellis\'s tokenizer and of @huggingface/tokenizers (pure JS) on the same real mixed text (Python standard library, TypeScript .d.ts, READMEs, a unicode stress block), same run, and whether the ids are identical; token trie build time.';
  const reproduce = 'node dist/cli.js bench-tokenizer';
  const { p, data } = part<TokenizerBenchResult>(bench, 'tokenizer');
  if (!data) return missing(id, title, description, reproduce, p);
  const bars: BarChart = { kind: 'bars', title: 'Encode MB/s (warm)', unit: 'MB/s', bars: data.rows.flatMap((r) => [{ label: `${r.tokenizer} · Trellis`, value: r.warmMBps.ours, group: 'Trellis' }, { label: `${r.tokenizer} · HF`, value: r.warmMBps.reference, group: 'HF' }]) };
  const t: ReportTable = {
    columns: ['tokenizer', 'V', 'tokens', 'identical ids', 'Trellis MB/s', 'HF MB/s', 'ratio', 'cold ratio', 'load ms Trellis / HF', 'trie ms'],
    rows: data.rows.map((r) => [r.tokenizer, r.vocabSize, r.tokens, r.identicalIds, r.warmMBps.ours, r.warmMBps.reference, r.ratio, r.coldRatio, `${r.loadMs.ours} / ${r.loadMs.reference}`, r.trieBuildMs]),
  };
  return { id, title, description: description + sizes(p) + ` Sample ${data.sampleBytes.toLocaleString('en-US')} bytes.`, reproduce, tables: [t], charts: [bars], notes: data.skipped.map((s) => `skipped: ${s}`) };
}

function decodeSection(bench?: SuiteResult, ev?: SuiteResult): ReportSection {
  const id = 'decode', title = 'Decoding speed, and the cost of each feature';
  const description = 'Plain loop: greedy tokens/s after the first token and first-token latency (prompt building and prefill included) of the default model at FIM prompts cut at line ends of this repository\'s Python files, end tokens banned so each prompt decodes the same length. Feature costs are ratios measured interleaved with their own baseline in the same run: grammar mask / aligned decode tokens/s ÷ grammar off (eval-grammar throughput phase), healing token / exact time to first byte ÷ off (eval-healing), steering with two attributes tokens/s ÷ unsteered (eval-steering).';
  const reproduce = 'npm run bench (plain loop); npm run eval (feature ratios)';
  const { p, data } = part<DecodeData>(bench, 'decode');
  const charts: Chart[] = [];
  const tables: ReportTable[] = [];
  const notes: string[] = [];
  if (data) {
    tables.push({ columns: ['model', 'threads', 'prompts', 'median prompt tokens', 'tokens/s', 'first token ms', 'load ms'], rows: [[data.model, data.threads, data.samples.length, data.promptTokens, r2(data.tokensPerSecond), r2(data.firstTokenMs), data.loadMs]] });
    if (data.firstTokenMsQuantiles) charts.push({ kind: 'quantiles', title: 'First-token latency, plain loop (ms)', unit: 'ms', rows: [{ label: 'first token', ...data.firstTokenMsQuantiles }] });
  } else notes.push(p ? `Plain-loop part failed: ${p.error}` : 'Plain loop not measured yet.');
  const ratios: BarChart = { kind: 'bars', title: 'Speed relative to the feature off (same run; 1 = no cost)', unit: '×', bars: [], reference: 1 };
  const g = part<GrammarEvalReport>(ev, 'grammar').data;
  for (const r of g?.rows ?? []) if (r.mode !== 'off' && finite(r.tokensPerSecondVsOff)) ratios.bars.push({ label: `grammar ${r.mode} tokens/s`, value: r2(r.tokensPerSecondVsOff)!, group: 'grammar' });
  const h = part<HealingEvalReport>(ev, 'healing').data;
  for (const r of h?.rows ?? []) if (r.mode !== 'off' && finite(r.firstByteVsOff) && r.firstByteVsOff > 0) ratios.bars.push({ label: `healing ${r.mode} 1st-byte speed`, value: r2(1 / r.firstByteVsOff)!, group: 'healing' });
  const s = part<SteeringEvalReport>(ev, 'steering').data;
  if (s && finite(s.overheadRatio)) ratios.bars.push({ label: 'steering 2 attrs tokens/s', value: r2(s.overheadRatio)!, group: 'steering' });
  if (ratios.bars.length) charts.push(ratios);
  else notes.push('Feature ratios come from npm run eval (not run yet or failed).');
  return { id, title, description: description + sizes(p), reproduce, tables, charts, notes };
}

function memorySection(bench?: SuiteResult): ReportSection {
  const id = 'memory', title = 'Memory of a CLI completion';
  const description = 'Peak resident set size (process.resourceUsage().maxRSS at exit) of one `trellis complete` process with the default model: load, one completion with the default grammar and healing modes, exit.';
  const reproduce = 'npm run bench (part memory)';
  const { p, data } = part<MemoryData>(bench, 'memory');
  if (!data) return missing(id, title, description, reproduce, p);
  return {
    id, title, description: description + sizes(p), reproduce, charts: [],
    tables: [{ columns: ['peak RSS MiB', 'model file MiB', 'wall ms', 'generated tokens', 'grammar', 'healing'], rows: [[data.peakRssMiB, data.modelFileMiB, data.wallMs, data.generatedTokens ?? null, data.grammar, data.healing]] }],
    notes: [`Command: ${data.command}`, ...(data.runsMiB ? [`The median of three processes (MiB: ${data.runsMiB.join(', ')}).`] : [])],
  };
}

function grammarSection(ev?: SuiteResult): ReportSection {
  const id = 'grammar-modes', title = 'Completion quality per grammar mode';
  const description = 'Seeded cursors (half at line ends, half mid-line) in held-out Python files; each mode completes the same cursors. Parse OK: the file with the completion has no new tree-sitter error; exact match and edit similarity against the real text; shares stopped by max tokens; mean latency.';
  const reproduce = 'node dist/cli.js eval-grammar   (or: npm run eval)';
  const { p, data } = part<GrammarEvalReport>(ev, 'grammar');
  if (!data) return missing(id, title, description, reproduce, p);
  const quality: BarChart = { kind: 'bars', title: 'Quality per mode (share of completions, %)', unit: '%', bars: data.rows.flatMap((r) => [
    { label: `${r.mode} · parse OK`, value: r.parseOk * 100, group: 'parse' },
    { label: `${r.mode} · exact`, value: r.exactMatch * 100, group: 'exact' },
    { label: `${r.mode} · edit sim`, value: r.editSimilarity * 100, group: 'sim' },
  ]) };
  const lat: BarChart = { kind: 'bars', title: 'Mean latency per completion (ms)', unit: 'ms', bars: data.rows.map((r) => ({ label: r.mode, value: r.meanLatencyMs, group: 'latency' })) };
  const t: ReportTable = {
    columns: ['mode', 'n', 'parse OK', 'exact', 'edit sim', 'max tokens', 'loop', 'dead end', 'latency ms', 'first token ms', 'forced tok/s', '× off'],
    rows: data.rows.map((r) => [r.mode, r.completions, pct(r.parseOk), pct(r.exactMatch), r2(r.editSimilarity), pct(r.maxTokensShare), pct(r.loopShare), pct(r.deadEndShare), r2(r.meanLatencyMs), r2(r.meanFirstTokenMs), r2(r.forcedTokensPerSecond), r2(r.tokensPerSecondVsOff)]),
  };
  return { id, title, description: description + sizes(p) + ` Data: ${data.positions} cursors in ${data.files} files from ${data.source}; model ${data.model}.`, reproduce, tables: [t], charts: [quality, lat] };
}

function healingSection(ev?: SuiteResult): ReportSection {
  const id = 'healing', title = 'Token healing at mid-token cursors';
  const description = 'Seeded cursors strictly inside a token of an identifier in held-out Python files. Per healing mode: mean log-likelihood per byte (nats, higher is better) of the true next bytes under the mode, greedy exact match of the completed identifier and line, and time to the first byte.';
  const reproduce = 'node dist/cli.js eval-healing   (or: npm run eval)';
  const { p, data } = part<HealingEvalReport>(ev, 'healing');
  if (!data) return missing(id, title, description, reproduce, p);
  const ll: BarChart = { kind: 'bars', title: '−log-likelihood per byte of the true continuation (nats; lower is better)', unit: 'nats', bars: data.rows.map((r) => ({ label: r.mode, value: -r.logLikelihoodPerByte, group: 'll' })) };
  const ex: BarChart = { kind: 'bars', title: 'Exact match per mode (%)', unit: '%', bars: data.rows.flatMap((r) => [{ label: `${r.mode} · identifier`, value: r.identifierExact * 100, group: 'ident' }, { label: `${r.mode} · line`, value: r.lineExact * 100, group: 'line' }]) };
  const t: ReportTable = {
    columns: ['mode', 'cursors', 'LL/byte', 'wins vs off', 'identifier exact', 'line exact', 'healing calls', 'first byte ms', '× off'],
    rows: data.rows.map((r) => [r.mode, r.positions, r2(r.logLikelihoodPerByte), pct(r.winsVsOff), pct(r.identifierExact), pct(r.lineExact), r2(r.healingCalls), r2(r.firstByteMs), r2(r.firstByteVsOff)]),
  };
  return { id, title, description: description + sizes(p) + ` Data: ${data.positions} cursors in ${data.files} files (${data.filesSource}); model ${data.model}.`, reproduce, tables: [t], charts: [ll, ex] };
}

function steeringSection(ev?: SuiteResult): ReportSection {
  const id = 'steering', title = 'Steering: attribute rates per slider setting';
  const description = 'Held-out Python prompts ending at a real `def name(` line, completed with GeDi weights −k, 0, +k per attribute (and two attributes at once); the share of completed functions with each attribute (the training labeller decides), the base model\'s log-likelihood per token (quality cost) and tokens/s.';
  const reproduce = 'node dist/cli.js eval-steering   (or: npm run eval)';
  const { p, data } = part<SteeringEvalReport>(ev, 'steering');
  if (!data) return missing(id, title, description, reproduce, p);
  const attrs = Object.keys(data.rows[0]?.rates ?? {});
  const bars: BarChart = { kind: 'bars', title: 'Attribute rate per setting (%)', unit: '%', bars: data.rows.flatMap((r) => attrs.map((a) => ({ label: `${r.setting} · ${a}`, value: (r.rates[a] ?? 0) * 100, group: a }))) };
  const t: ReportTable = {
    columns: ['setting', ...attrs.map((a) => `${a} %`), 'base LL/token', 'tok/s', '× unsteered', 'labelled'],
    rows: data.rows.map((r) => [r.setting, ...attrs.map((a) => pct(r.rates[a])), r2(r.baseLogLikPerToken), r2(r.decodeTokensPerSecond), r2(r.speedVsUnsteered), `${r.labelled}/${r.completions}`]),
  };
  const swing = Object.entries(data.swingPp).map(([a, v]) => `${a} ${v >= 0 ? '+' : ''}${v.toFixed(1)} pp`).join(', ');
  return { id, title, description: description + sizes(p) + ` Data: ${data.prompts} prompts (${data.source}).`, reproduce, tables: [t], charts: [bars], notes: [`Swing (+k vs −k): ${swing}. Two attributes: ${r2(data.overheadRatio)} × unsteered tokens/s.`] };
}

function runsSection(res: Results): ReportSection {
  const rows: ReportTable['rows'] = [];
  for (const s of [res.bench, res.eval]) {
    if (!s) continue;
    for (const p of Object.values(s.parts)) rows.push([s.kind, p.name, p.status, p.seconds, p.status === 'ok' ? '' : (p.error ?? '')]);
  }
  const m = res.bench?.machine ?? res.eval?.machine;
  return {
    id: 'runs', title: 'Runs', description: 'Every part of the last `npm run bench` and `npm run eval`, how long it took, and whether it failed (a failed part leaves the others intact).',
    reproduce: 'npm run bench && npm run eval', charts: [],
    tables: [{ columns: ['suite', 'part', 'status', 'seconds', 'error'], rows }],
    notes: [res.bench, res.eval].filter((s): s is SuiteResult => !!s).map((s) => `${s.kind}: started ${s.startedAt}, ${s.seconds} s${s.quick ? ' (--quick sizes)' : ''}, model ${s.model}, load average ${s.machine.loadAverage.start} → ${s.machine.loadAverage.end} on ${s.machine.cpus} CPUs.`)
      .concat(m ? [`Machine: ${m.cpuModel}, ${m.cpus} CPUs, ${m.memoryGiB} GiB, Node ${m.node}${m.nodeFlags?.length ? ` (${m.nodeFlags.join(' ')})` : ''}, ${m.platform}.`] : []),
  };
}

/** The whole report. */
export function buildReport(res: Results): Report {
  const m = res.bench?.machine ?? res.eval?.machine;
  return {
    title: 'Trellis — benchmarks and evaluation',
    generatedAt: res.generatedAt,
    machine: m ? `${m.cpus} × ${m.cpuModel}, Node ${m.node}` : 'unknown machine',
    sections: [
      safe('json-masks', () => xgrammarSection(res.bench)), safe('masks', () => masksSection(res.bench)), safe('mask-session', () => sessionSection(res.bench)), safe('tokenizer', () => tokenizerSection(res.bench)),
      safe('decode', () => decodeSection(res.bench, res.eval)), safe('memory', () => memorySection(res.bench)),
      safe('grammar-modes', () => grammarSection(res.eval)), safe('healing', () => healingSection(res.eval)), safe('steering', () => steeringSection(res.eval)),
      safe('runs', () => runsSection(res)),
    ],
  };
}

/** A section whose data has an unexpected shape (a benchmark changed) says so instead of breaking the page. */
function safe(id: string, f: () => ReportSection): ReportSection {
  try {
    return f();
  } catch (e) {
    return { id, title: id, description: 'This section could not be drawn from results.json.', reproduce: 'npm run bench && npm run eval', tables: [], charts: [], notes: [`error: ${(e as Error).message}`] };
  }
}

/** The README's short results table (markdown), every number read from results.json. */
export function readmeTable(res: Results): string {
  const rows: string[][] = [];
  const b = res.bench, e = res.eval;
  // A part whose data changed shape loses its rows, not the whole table.
  const guard = (f: () => void) => { try { f(); } catch { /* skipped */ } };
  guard(() => {
    const xg = part<XGrammarBenchResult>(b, 'xgrammar').data;
    for (const r of xg?.rows ?? []) {
      const t = r.trellis;
      rows.push([`JSON mask µs p50 / p99, ${r.vocabulary} vocabulary (${r.vocabSize.toLocaleString('en-US')})`, t ? `${t.maskUs.p50} / ${t.maskUs.p99}` : '—', `XGrammar ${r.xgrammarMaskUs.p50} / ${r.xgrammarMaskUs.p99}`, `${r.ratio.p50}× / ${r.ratio.p99}×`]);
    }
  });
  guard(() => {
    // code masks at the large vocabulary, whole files teacher-forced (bench-mask --mode whole)
    const ms = (part<MaskBenchRow[]>(b, 'masks').data ?? []).filter((r) => r.vocabulary === 'llama3');
    if (ms.length) rows.push([`Code mask µs p50 / p99, llama3 vocabulary (${ms.map((r) => r.language).join(' · ')})`, ms.map((r) => `${r.maskUs.p50} / ${r.maskUs.p99}`).join(' · '), '—', `memo + core hits ${ms.map((r) => `${Math.round(100 * (r.memoHitRate + (r.coreHitRate ?? 0)))}%`).join(' · ')}`]);
  });
  guard(() => {
    // the same after a third of a long session's files (bench-mask --mode session)
    const ss = (part<MaskBenchRow[]>(b, 'mask-session').data ?? []).filter((r) => r.warm);
    if (ss.length) rows.push([`Code mask µs p50 / p99 in a long session, files ${ss[0]!.warm!.fromFile}–${ss[0]!.files} (${ss.map((r) => r.language).join(' · ')})`, ss.map((r) => `${r.warm!.maskUs.p50} / ${r.warm!.maskUs.p99}`).join(' · '), '—', `memos ${ss.map((r) => `${r.memoMiB} MiB`).join(' · ')}`]);
  });
  guard(() => {
    const tk = part<TokenizerBenchResult>(b, 'tokenizer').data;
    for (const r of tk?.rows ?? []) rows.push([`Tokenizer encode MB/s, ${r.tokenizer}`, String(r.warmMBps.ours), `@huggingface/tokenizers ${r.warmMBps.reference}`, `${r.ratio}×${r.identicalIds ? ', identical ids' : ', ids DIFFER'}`]);
  });
  guard(() => {
    const d = part<DecodeData>(b, 'decode').data;
    if (d) rows.push(['Decode tokens/s · first token ms (default model)', `${r2(d.tokensPerSecond)} · ${r2(d.firstTokenMs)}`, '—', '—']);
  });
  guard(() => {
    const mem = part<MemoryData>(b, 'memory').data;
    if (mem) rows.push([mem.runsMiB ? 'Peak RSS of a CLI completion (MiB, median of 3 processes)' : 'Peak RSS of a CLI completion (MiB)', String(mem.peakRssMiB), '—', '—']);
  });
  guard(() => {
    const g = part<GrammarEvalReport>(e, 'grammar').data;
    if (g) {
      const off = g.rows.find((r) => r.mode === 'off');
      for (const r of g.rows.filter((x) => x.mode !== 'off')) rows.push([`Parse OK after completion, grammar ${r.mode}`, pct(r.parseOk), off ? `grammar off ${pct(off.parseOk)}` : '—', `${r2(r.tokensPerSecondVsOff)}× tokens/s`]);
    }
  });
  guard(() => {
    const h = part<HealingEvalReport>(e, 'healing').data;
    if (h) {
      const off = h.rows.find((r) => r.mode === 'off');
      for (const r of h.rows.filter((x) => x.mode !== 'off')) rows.push([`Mid-token: identifier exact match, healing ${r.mode}`, pct(r.identifierExact), off ? `healing off ${pct(off.identifierExact)}` : '—', `${r2(r.firstByteVsOff)}× first-byte time`]);
    }
  });
  guard(() => {
    const s = part<SteeringEvalReport>(e, 'steering').data;
    if (s) rows.push(['Steering swing (+k vs −k), two-attribute speed', Object.entries(s.swingPp).map(([a, v]) => `${a} ${v >= 0 ? '+' : ''}${v.toFixed(1)} pp`).join(', '), 'unsteered', `${r2(s.overheadRatio)}× tokens/s`]);
  });
  // (each run on its own machine: the benchmarks and the evaluation may come from different ones)
  const when = [b, e].filter((x): x is SuiteResult => !!x).map((x) => `${x.kind} ${x.startedAt.slice(0, 16).replace('T', ' ')} UTC${x.quick ? ' (quick sizes)' : ''}${x.machine ? ` on ${x.machine.cpus} × ${x.machine.cpuModel}` : ''}`).join(', ');
  return [
    '| Measure | Trellis | Baseline (same run) | Ratio |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    '',
    `Generated from report/results.json (${when || 'no runs yet'}) by \`node dist/cli.js report --readme README.md\`. Full report with plots: [report/index.html](report/index.html).`,
    '',
    '![The benchmark report (report/index.html) rendered in headless Chromium](report/screenshot.png)',
  ].join('\n');
}

export const README_START = '<!-- results:start -->';
export const README_END = '<!-- results:end -->';

/** README text with the table between the markers (appended with the markers if absent). */
export function spliceReadme(readme: string, table: string): string {
  const block = `${README_START}\n${table}\n${README_END}`;
  const a = readme.indexOf(README_START), b = readme.indexOf(README_END);
  if (a >= 0 && b > a) return readme.slice(0, a) + block + readme.slice(b + README_END.length);
  return `${readme.trimEnd()}\n\n## Results\n\n${block}\n`;
}
