import { strict as assert } from 'node:assert';
import { RestartPolicy } from '../../../src/vscode/backoff';
import { StatsLog, toStatsEntry } from '../../../src/vscode/stats';
import type { CompletionResult } from '../../../src/engine/api';

describe('vscode-glue: worker restart policy', () => {
  it('backs off exponentially and gives up after too many crashes in the window', () => {
    let now = 0;
    const p = new RestartPolicy({ baseMs: 100, maxMs: 300, maxCrashes: 4, windowMs: 1000 }, () => now);
    assert.deepEqual([p.onCrash(), p.onCrash(), p.onCrash()], [100, 200, 300]);
    assert.equal(p.onCrash(), undefined);
    now = 5000; // old crashes leave the window
    assert.equal(p.onCrash(), 100);
    p.reset();
    assert.equal(p.recentCrashes, 0);
  });
});

describe('vscode-glue: statistics', () => {
  const result: CompletionResult = {
    text: 'x',
    respelledChars: 0,
    stopReason: 'eos',
    timings: { firstTokenMs: 12.4, totalMs: 80.6, tokensPerSecond: 123.45 },
    stats: { promptTokens: 10, generatedTokens: 8, modelCalls: 9, maskedSteps: 2, healing: 'exact', healingCovers: 3, suffixCheck: 'full' },
  };

  it('turns a result into a row and formats it for the log', () => {
    const e = toStatsEntry('inline', 'python', result, 1);
    assert.deepEqual(e, { kind: 'inline', at: 1, languageId: 'python', latencyMs: 81, firstTokenMs: 12, tokensPerSecond: 123.5, generatedTokens: 8, maskedShare: 0.25, healing: 'exact', healingCovers: 3, stopReason: 'eos' });
    assert.equal(StatsLog.format(e), 'inline python 8 tok 81 ms (123.5 tok/s, first 12 ms) masked 25% healing exact/3 stop eos');
  });

  it('keeps the newest entries first and notifies listeners', () => {
    const log = new StatsLog(2);
    const seen: number[] = [];
    log.onChange((rows) => seen.push(rows.length));
    for (const at of [1, 2, 3]) log.add(toStatsEntry('inline', 'python', result, at));
    assert.deepEqual(log.entries.map((e) => e.at), [3, 2]);
    assert.deepEqual(seen, [1, 2, 2]);
  });
});
