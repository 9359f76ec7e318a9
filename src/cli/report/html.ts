// Renders benchmark and evaluation results as one self-contained HTML page: no scripts, no
// network, plots as inline SVG. Every section says what it measures, on what data, and how to
// reproduce it.

/** One table of results. */
export interface ReportTable {
  columns: string[];
  rows: (string | number | boolean | null)[][];
}

/** A horizontal bar chart: one bar per label. `reference` draws a dashed line (e.g. ratio 1). */
export interface BarChart {
  kind: 'bars';
  title: string;
  unit: string;
  bars: { label: string; value: number; group?: string }[];
  reference?: number;
}

/** Distributions summarised as p50 / p99 / max per label, drawn on a log axis. */
export interface QuantileChart {
  kind: 'quantiles';
  title: string;
  unit: string;
  rows: { label: string; p50: number; p99: number; max: number }[];
}

export type Chart = BarChart | QuantileChart;

export interface ReportSection {
  id: string;
  title: string;
  /** What is measured, on what data. */
  description: string;
  /** The command that reproduces this section. */
  reproduce: string;
  tables: ReportTable[];
  charts: Chart[];
  notes?: string[];
}

export interface Report {
  title: string;
  generatedAt: string;
  machine: string;
  sections: ReportSection[];
}

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function formatNumber(v: unknown): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '—' : String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.01 ? v.toFixed(3) : v.toExponential(2);
}

const PALETTE = ['#3b82f6', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#14b8a6', '#ec4899', '#64748b'];

function barChart(c: BarChart): string {
  const rowH = 22, left = 220, width = 720, plotW = width - left - 80;
  const max = Math.max(...c.bars.map((b) => b.value), c.reference ?? 0, 1e-12);
  const groups = [...new Set(c.bars.map((b) => b.group ?? ''))];
  const h = c.bars.length * rowH + 40;
  const x = (v: number) => left + (v / max) * plotW;
  const bars = c.bars.map((b, i) => {
    const y = 30 + i * rowH;
    const color = PALETTE[groups.indexOf(b.group ?? '') % PALETTE.length];
    return `<text x="${left - 6}" y="${y + 14}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect x="${left}" y="${y + 3}" width="${Math.max(1, x(b.value) - left)}" height="${rowH - 6}" fill="${color}"/>` +
      `<text x="${x(b.value) + 4}" y="${y + 14}">${esc(formatNumber(b.value))} ${esc(c.unit)}</text>`;
  }).join('');
  const ref = c.reference === undefined ? '' :
    `<line x1="${x(c.reference)}" x2="${x(c.reference)}" y1="24" y2="${h - 8}" stroke="#888" stroke-dasharray="4 3"/>`;
  return `<figure><figcaption>${esc(c.title)}</figcaption><svg class="chart" data-kind="bars" viewBox="0 0 ${width} ${h}" width="${width}" height="${h}" role="img" aria-label="${esc(c.title)}">${bars}${ref}</svg></figure>`;
}

/** Axis labels: 1, 10, 100, 1k, 10k, 1M … */
function compact(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  return formatNumber(v);
}

function quantileChart(c: QuantileChart): string {
  const rowH = 24, left = 220, width = 900, plotW = width - left - 250;
  const vals = c.rows.flatMap((r) => [r.p50, r.p99, r.max]).filter((v) => v > 0);
  // Whole decades, so the ticks stay inside the plot.
  const lo = Math.floor(Math.log10(Math.min(...vals, 1))), hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...vals, 10))));
  const x = (v: number) => left + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / Math.max(hi - lo, 1e-9)) * plotW;
  const h = c.rows.length * rowH + 50;
  const rows = c.rows.map((r, i) => {
    const y = 30 + i * rowH + rowH / 2;
    return `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${esc(r.label)}</text>` +
      `<line x1="${x(r.p50)}" x2="${x(r.max)}" y1="${y}" y2="${y}" stroke="#999"/>` +
      `<circle cx="${x(r.p50)}" cy="${y}" r="5" fill="${PALETTE[0]}"/>` +
      `<circle cx="${x(r.p99)}" cy="${y}" r="4" fill="${PALETTE[1]}"/>` +
      `<rect x="${x(r.max) - 3}" y="${y - 3}" width="6" height="6" fill="${PALETTE[3]}"/>` +
      `<text x="${width - 240}" y="${y + 4}">${esc(formatNumber(r.p50))} / ${esc(formatNumber(r.p99))} / ${esc(formatNumber(r.max))}</text>`;
  }).join('');
  const ticks: string[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    ticks.push(`<line x1="${x(10 ** e)}" x2="${x(10 ** e)}" y1="24" y2="${h - 20}" stroke="#ddd"/><text x="${x(10 ** e)}" y="${h - 6}" text-anchor="middle">${esc(compact(10 ** e))}</text>`);
  }
  const legend = `<text x="${left}" y="16">● p50  ● p99  ■ max (${esc(c.unit)}, log scale)</text>`;
  return `<figure><figcaption>${esc(c.title)}</figcaption><svg class="chart" data-kind="quantiles" viewBox="0 0 ${width} ${h}" width="${width}" height="${h}" role="img" aria-label="${esc(c.title)}">${ticks.join('')}${legend}${rows}</svg></figure>`;
}

function table(t: ReportTable): string {
  return `<table><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>` +
    t.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(formatNumber(v))}</td>`).join('')}</tr>`).join('') +
    '</tbody></table>';
}

export function renderReport(report: Report): string {
  const nav = report.sections.map((s) => `<a href="#${esc(s.id)}">${esc(s.title)}</a>`).join(' · ');
  const body = report.sections.map((s) => `
<section id="${esc(s.id)}">
  <h2>${esc(s.title)}</h2>
  <p>${esc(s.description)}</p>
  <p class="repro">Reproduce: <code>${esc(s.reproduce)}</code></p>
  ${s.charts.map((c) => (c.kind === 'bars' ? barChart(c) : quantileChart(c))).join('\n')}
  ${s.tables.map(table).join('\n')}
  ${(s.notes ?? []).map((n) => `<p class="note">${esc(n)}</p>`).join('')}
</section>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(report.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1f2937}
h1{font-size:1.6em}h2{border-bottom:1px solid #e5e7eb;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0}th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:right}
th{background:#f3f4f6}td:first-child,th:first-child{text-align:left}
svg.chart text{font:12px system-ui,sans-serif;fill:#374151}figure{margin:1em 0}figcaption{font-weight:600}
code{background:#f3f4f6;padding:1px 4px;border-radius:3px}.note{color:#6b7280}.meta{color:#6b7280}
</style></head><body>
<h1>${esc(report.title)}</h1>
<p class="meta">Generated ${esc(report.generatedAt)} on ${esc(report.machine)}. Every number below was measured in the run that wrote this page.</p>
<nav>${nav}</nav>
${body}
</body></html>
`;
}
