// Stop strings and loop guards on byte streams fed token by token.
import * as assert from 'node:assert/strict';
import { lineLoopGuard, repeatLoopGuard, stopStringCheck } from '../../../src/engine/decode/stops';
import type { StopCheck } from '../../../src/engine/decode/hooks';

/** Feeds `pieces` cumulatively; returns the first hit and the text kept. */
function run(check: StopCheck, pieces: string[]): { reason: string; kept: string; at: number } | null {
  let text = '';
  for (let i = 0; i < pieces.length; i++) {
    text += pieces[i];
    const bytes = new TextEncoder().encode(text);
    const hit = check.check(bytes, []);
    if (hit) return { reason: hit.reason, kept: new TextDecoder().decode(bytes.subarray(0, hit.keepBytes ?? bytes.length)), at: i };
  }
  return null;
}

describe('decode/stops', () => {
  it('stop strings: cut before the first match, also across token boundaries', () => {
    assert.deepEqual(run(stopStringCheck(['\n\n', 'def '])!, ['x = 1', '\n', '\nprint']), { reason: 'stop_string', kept: 'x = 1', at: 2 });
    assert.deepEqual(run(stopStringCheck(['déf'])!, ['ab d', 'é', 'fg']), { reason: 'stop_string', kept: 'ab ', at: 2 });
    assert.equal(run(stopStringCheck(['zz'])!, ['a', 'z', 'y', 'z']), null);
    assert.equal(stopStringCheck(['']), null);
  });
  it('blank-line guard: at most N consecutive blank lines (the cursor line does not count)', () => {
    const g = lineLoopGuard(2, 0)!;
    assert.deepEqual(run(g, ['\n', 'x\n', '\n', '  \n', '\n', 'y']), { reason: 'loop', kept: '\nx\n\n  \n', at: 4 });
    assert.equal(run(lineLoopGuard(2, 0)!, ['\n', '\n', 'a\n', '\n', '\n', 'b\n']), null);
  });
  it('repeated-line guard: at most N identical consecutive non-blank lines', () => {
    const g = lineLoopGuard(-1, 2)!;
    assert.deepEqual(run(g, ['    x += 1\n', '    x += 1\n', '    x += 1\n']), { reason: 'loop', kept: '    x += 1\n    x += 1\n', at: 2 });
    assert.equal(run(lineLoopGuard(-1, 2)!, ['a\n', 'a\n', 'b\n', 'a\n', 'a\n']), null);
    assert.equal(lineLoopGuard(-1, 0), null);
  });
  it('repeat guard: more than N copies of one stretch of a line stop, keeping the first copy', () => {
    // the fourth copy of `.path` (tokens need not line up with the copies)
    assert.deepEqual(run(repeatLoopGuard(3)!, ['os', '.path', '.pa', 'th.', 'path', '.path', ' import']), { reason: 'loop', kept: 'os.path', at: 5 });
    assert.deepEqual(run(repeatLoopGuard(3)!, ['total', ', b', ', b', ', b', ', b', ')']), { reason: 'loop', kept: 'total, b', at: 4 });
    // three copies are allowed; a run of one byte, whitespace and whole lines never count
    assert.equal(run(repeatLoopGuard(3)!, ['x.path', '.path', '.path', '(']), null);
    assert.equal(run(repeatLoopGuard(3)!, ['# ', '-'.repeat(40), '\n', '0000000000', ' \t \t \t \t \t', 'x']), null);
    assert.equal(run(repeatLoopGuard(3)!, ['a = 1\n', 'a = 1\n', 'a = 1\n', 'a = 1\n', 'a = 1\n']), null);
    // a stretch longer than 32 bytes is not looked for; the copies must be consecutive
    assert.equal(run(repeatLoopGuard(3)!, Array(5).fill('f(abcdefghijklmnopqrstuvwxyz0123456789), ')), null);
    assert.equal(run(repeatLoopGuard(3)!, ['a.b', '.b', '.b', '.c', '.b', '.b']), null);
    assert.equal(repeatLoopGuard(0), null);
  });
});
