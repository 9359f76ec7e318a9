// Example texts of the lexemes that may come next (Matcher.nextLexemeExamples), for the search
// that finishes a cut completion (decode/grammar-select.ts deriveEnd), seen through a pending
// external scanner run.
import type { GrammarRuntime, State } from './runtime';
import type { Row } from './earley';
import { utf8DecodeOnce } from '../text';

/**
 * GrammarRuntime.nextExamples, plus what a pending scanner run leads to. While a run is pending
 * (Python after a line break: the scanner decides between _newline, _indent and _dedent only at
 * the next non-blank byte) the row is still the one before the line break, so its examples are
 * what may continue the old line (`,`, `+`, `as`…) and the statements a new line may start
 * (`def`, `class`, a name…) are hidden. One byte on the run has decided and the row is the one
 * after its token: the probes are the first bytes of those examples and of what may start a
 * file (a statement, in most grammars). The lexemes each row reached expects are added (after
 * the others, each once), each kept only if it is viable here, so every added example is a
 * viable continuation of S.
 */
export function nextExamplesPastRuns(rt: GrammarRuntime, S: State): Uint8Array[] {
  const out = rt.nextExamples(S);
  if (!S.runs || S.runs.length === 0) return out;
  const have = new Set(out.map(utf8DecodeOnce));
  // The state one byte on, per byte (the step that may end the run is taken once per byte).
  const oneOn = new Map<number, State | null>();
  const stepped = (b: number) => {
    let S2 = oneOn.get(b);
    if (S2 === undefined) oneOn.set(b, (S2 = rt.step(S, b)));
    return S2;
  };
  const rows = new Set<Row>([S.row]);
  const probes = new Set(out.map((e) => e[0]!));
  for (const b of startBytes(rt)) probes.add(b);
  for (const b of probes) {
    const S2 = stepped(b);
    if (!S2 || rows.has(S2.row)) continue; // no verdict on b (or a row already seen)
    rows.add(S2.row);
    // What that row expects at a lexeme start (not what continues the lexeme b began).
    const after: State = { row: S2.row, lex: rt.startState(S2.row, false), ext: S2.ext, runs: null };
    for (const e of rt.nextExamples(after)) {
      const k = utf8DecodeOnce(e);
      if (have.has(k)) continue;
      have.add(k);
      const S1 = stepped(e[0]!);
      if (S1 && (e.length === 1 || rt.feed(S1, e.subarray(1)))) out.push(e);
    }
  }
  return out;
}

const starts = new WeakMap<GrammarRuntime, Uint8Array>();

/** First bytes of the examples of what may start a file (computed once per grammar). */
function startBytes(rt: GrammarRuntime): Uint8Array {
  let bytes = starts.get(rt);
  if (!bytes) starts.set(rt, (bytes = Uint8Array.from(new Set(rt.nextExamples(rt.newInitialState()).map((e) => e[0]!)))));
  return bytes;
}
