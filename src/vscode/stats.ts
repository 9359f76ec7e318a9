// The last completions' statistics for the sidebar and the log: a small ring of StatsEntry built
// from engine results. Plain TypeScript, no `vscode` import.
import type { CompletionResult } from '../engine/api';
import type { StatsEntry } from '../protocol/webview';

/** Turns an engine result into one row of statistics. */
export function toStatsEntry(kind: StatsEntry['kind'], languageId: string, r: CompletionResult, at = Date.now()): StatsEntry {
  const steps = Math.max(1, r.stats.generatedTokens);
  return {
    kind,
    at,
    languageId,
    latencyMs: Math.round(r.timings.totalMs),
    firstTokenMs: Math.round(r.timings.firstTokenMs),
    tokensPerSecond: Math.round(r.timings.tokensPerSecond * 10) / 10,
    generatedTokens: r.stats.generatedTokens,
    maskedShare: r.stats.generatedTokens === 0 ? 0 : Math.min(1, r.stats.maskedSteps / steps),
    healing: r.stats.healing,
    healingCovers: r.stats.healingCovers,
    stopReason: r.stopReason,
  };
}

/** Keeps the newest `capacity` entries, newest first, and tells listeners about changes. */
export class StatsLog {
  private rows: StatsEntry[] = [];
  private readonly listeners = new Set<(rows: StatsEntry[]) => void>();

  constructor(readonly capacity = 20) {}

  add(entry: StatsEntry): void {
    this.rows = [entry, ...this.rows].slice(0, this.capacity);
    for (const l of this.listeners) l(this.rows);
  }

  get entries(): StatsEntry[] {
    return this.rows;
  }

  onChange(listener: (rows: StatsEntry[]) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** One log line: `inline python 12 tok 85 ms (141 tok/s) masked 8% healing exact/3 stop eos`. */
  static format(e: StatsEntry): string {
    return `${e.kind} ${e.languageId} ${e.generatedTokens} tok ${e.latencyMs} ms (${e.tokensPerSecond} tok/s, first ${e.firstTokenMs} ms) masked ${Math.round(e.maskedShare * 100)}% healing ${e.healing}/${e.healingCovers} stop ${e.stopReason}`;
  }
}
