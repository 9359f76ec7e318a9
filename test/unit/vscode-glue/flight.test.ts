import { strict as assert } from 'node:assert';
import { delay, SingleFlight } from '../../../src/vscode/flight';

/** A job that runs until aborted or `ms` elapse, counting how many run at once. */
function job(log: string[], name: string, ms: number, live: { now: number; max: number }) {
  return async (signal: AbortSignal) => {
    live.now++;
    live.max = Math.max(live.max, live.now);
    log.push(`start ${name}`);
    const finished = await delay(ms, signal);
    // An aborted job still takes a moment to stop (like an engine between decode steps).
    if (!finished) await delay(5);
    live.now--;
    log.push(`${finished ? 'done' : 'aborted'} ${name}`);
    return name;
  };
}

describe('vscode-glue: debounce and single-flight', () => {
  it('delay resolves true after the time, false when aborted', async () => {
    assert.equal(await delay(5), true);
    const c = new AbortController();
    const p = delay(10_000, c.signal);
    c.abort();
    assert.equal(await p, false);
  });

  it('a new job aborts the running one and starts only after it stopped', async () => {
    const f = new SingleFlight();
    const log: string[] = [];
    const live = { now: 0, max: 0 };
    const a = f.run(job(log, 'a', 1000, live));
    await delay(10);
    const b = f.run(job(log, 'b', 20, live));
    assert.equal(await a, 'a');
    assert.equal(await b, 'b');
    assert.deepEqual(log, ['start a', 'aborted a', 'start b', 'done b']);
    assert.equal(live.max, 1);
    assert.equal(f.maxRunning, 1);
  });

  it('50 requests 3 ms apart leave at most one job running and run the last one', async () => {
    const f = new SingleFlight();
    const log: string[] = [];
    const live = { now: 0, max: 0 };
    const results: Promise<string | undefined>[] = [];
    for (let i = 0; i < 50; i++) {
      results.push(f.run(job(log, String(i), 30, live)));
      await delay(3);
    }
    const all = await Promise.all(results);
    assert.equal(live.max, 1);
    assert.equal(all[49], '49');
    assert.ok(log.includes('done 49'));
    // Superseded requests never started (resolved undefined) or were aborted; none finished early.
    assert.ok(all.filter((x) => x === undefined).length > 0);
    assert.ok(!log.slice(0, -1).some((l) => l.startsWith('done')), log.join(', '));
  });

  it('an outer abort (the editor cancelled the request) aborts the job', async () => {
    const f = new SingleFlight();
    const c = new AbortController();
    const seen: boolean[] = [];
    const p = f.run(async (signal) => {
      const ok = await delay(10_000, signal);
      seen.push(ok);
      return ok;
    }, c.signal);
    await delay(5);
    c.abort();
    assert.equal(await p, false);
    assert.deepEqual(seen, [false]);
  });

  it('a job already cancelled before start does not run', async () => {
    const f = new SingleFlight();
    const c = new AbortController();
    c.abort();
    let ran = false;
    assert.equal(await f.run(async () => (ran = true), c.signal), undefined);
    assert.equal(ran, false);
  });
});
