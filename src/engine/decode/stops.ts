// Built-in stop rules of the decode loop: user stop strings (matched on bytes, the completion is
// cut before the match) and the loop guards (runs of blank lines, identical lines, one stretch of
// a line repeated) that keep small models from padding a completion with always-legal text
// (algorithms.md §6).
import type { StopCheck } from './hooks';

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  if (needle.length === 0) return -1;
  const last = hay.length - needle.length;
  outer: for (let i = Math.max(0, from); i <= last; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Stops at the first occurrence of any of `stops` (UTF-8), keeping the bytes before it. */
export function stopStringCheck(stops: readonly string[]): StopCheck | null {
  const needles = stops.filter((s) => s.length > 0).map((s) => new TextEncoder().encode(s));
  if (needles.length === 0) return null;
  const longest = Math.max(...needles.map((n) => n.length));
  let scanned = 0;
  return {
    name: 'stop-strings',
    check(bytes) {
      // Only bytes that can complete a new match are rescanned.
      const from = Math.max(0, scanned - longest + 1);
      scanned = bytes.length;
      let best = -1;
      for (const n of needles) {
        const at = indexOf(bytes, n, from);
        if (at >= 0 && (best < 0 || at < best)) best = at;
      }
      return best >= 0 ? { reason: 'stop_string', keepBytes: best } : null;
    },
  };
}

function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0c && b !== 0x0b) return false;
  }
  return true;
}

function sameBytes(bytes: Uint8Array, a0: number, a1: number, b0: number, b1: number): boolean {
  if (a1 - a0 !== b1 - b0) return false;
  for (let i = 0; i < a1 - a0; i++) if (bytes[a0 + i] !== bytes[b0 + i]) return false;
  return true;
}

/**
 * Stops with reason 'loop' when the completion holds more than `maxBlankLines` consecutive blank
 * lines, or more than `maxRepeatedLines` identical consecutive non-blank lines; keeps the text up
 * to the last allowed line. Only complete lines (ended by '\n') count. A limit < 0 (blank) or < 1
 * (repeated) disables that guard.
 */
export function lineLoopGuard(maxBlankLines: number, maxRepeatedLines: number): StopCheck | null {
  const blankOn = maxBlankLines >= 0 && Number.isFinite(maxBlankLines);
  const repeatOn = maxRepeatedLines >= 1 && Number.isFinite(maxRepeatedLines);
  if (!blankOn && !repeatOn) return null;
  // Line starts of complete lines seen so far, and run counters, updated incrementally.
  let lineStart = 0;
  let scanned = 0;
  let blankRun = 0;
  let repeatRun = 0;
  let prevStart = -1;
  let prevEnd = -1;
  return {
    name: 'line-loop-guard',
    check(bytes) {
      for (let i = scanned; i < bytes.length; i++) {
        if (bytes[i] !== 0x0a) continue;
        const start = lineStart;
        const end = i; // exclusive of '\n'
        lineStart = i + 1;
        // The first line of a completion continues the cursor's line: it is never a loop by itself.
        if (isBlank(bytes, start, end)) {
          if (start > 0) blankRun++;
          repeatRun = 0;
          prevStart = -1;
          if (blankOn && blankRun > maxBlankLines) {
            scanned = bytes.length;
            return { reason: 'loop', keepBytes: start };
          }
        } else {
          blankRun = 0;
          if (prevStart >= 0 && sameBytes(bytes, start, end, prevStart, prevEnd)) repeatRun++;
          else repeatRun = 1;
          prevStart = start;
          prevEnd = end;
          if (repeatOn && repeatRun > maxRepeatedLines) {
            scanned = bytes.length;
            return { reason: 'loop', keepBytes: start };
          }
        }
      }
      scanned = bytes.length;
      return null;
    },
  };
}

/** Whether bytes [start, end) may be the repeat guard's stretch: no line break, not only whitespace, two distinct bytes. */
function isCycle(bytes: Uint8Array, start: number, end: number): boolean {
  let distinct = false;
  let text = false;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b === 0x0a) return false;
    if (b !== bytes[start]) distinct = true;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d) text = true;
  }
  return distinct && text;
}

/** Longest stretch of a line that the repeat guard looks for, in bytes. */
const REPEAT_MAX_PERIOD = 32;

/**
 * Stops with reason 'loop' when the completion ends in more than `maxRepeats` consecutive copies
 * of one stretch of 2–32 bytes inside a line (`.path.path.path.path.path`, `, b, b, b, b, b`),
 * keeping the text up to the end of the first copy: small models fall into such cycles where the
 * grammar lets every copy through. A stretch that is one byte over and over (`----`, `0000`,
 * indentation), only whitespace, or holds a line break (the line guard's) never counts. Only the
 * completion's bytes count; a maxRepeats < 1 disables the guard.
 */
export function repeatLoopGuard(maxRepeats: number): StopCheck | null {
  if (!(maxRepeats >= 1) || !Number.isFinite(maxRepeats)) return null;
  return {
    name: 'repeat-loop-guard',
    check(bytes) {
      const n = bytes.length;
      // a period-p tail: every byte of it equals the byte p later, so any p bytes of it are a copy
      for (let p = 2; p <= REPEAT_MAX_PERIOD && p * (maxRepeats + 1) <= n; p++) {
        let start = n - p;
        while (start > 0 && bytes[start - 1] === bytes[start - 1 + p]) start--;
        if (Math.floor((n - start) / p) <= maxRepeats) continue;
        if (isCycle(bytes, start, start + p)) return { reason: 'loop', keepBytes: start + p };
      }
      return null;
    },
  };
}
