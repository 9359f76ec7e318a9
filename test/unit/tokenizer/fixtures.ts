// Shared, lazily loaded tokenizers and sample text for the tokenizer tests (loaded once per
// mocha process: a 128k vocabulary takes about a second to load, ours and the reference alike).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as ReferenceTokenizer } from '@huggingface/tokenizers';
import { Tokenizer } from '../../../src/engine/tokenizer';
import { buildTokenizerSample, knownTokenizers } from '../../../src/cli/commands/bench-tokenizer';

export const ROOT = join(__dirname, '../../..');

export interface LoadedPair {
  name: string;
  file: string;
  json: Record<string, unknown>;
  ours: Tokenizer;
  reference: ReferenceTokenizer;
}

const pairs = new Map<string, LoadedPair>();

/** Path of a known tokenizer.json (llama3, qwen3, trellis-code-tiny). */
export function tokenizerFile(name: string): string {
  return knownTokenizers()[name];
}

/** Ours and the reference, both loaded from the same tokenizer.json; null when the file is absent. */
export function loadPair(name: string): LoadedPair | null {
  const cached = pairs.get(name);
  if (cached) return cached;
  const file = tokenizerFile(name);
  if (!existsSync(file)) return null;
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const pair: LoadedPair = {
    name,
    file,
    json,
    ours: Tokenizer.fromFile(file),
    reference: new ReferenceTokenizer(json, {}),
  };
  pairs.set(name, pair);
  return pair;
}

let sample: string | null = null;

/** The ~400 KB mixed real text sample (same as `trellis bench-tokenizer`). */
export function sampleText(): string {
  return (sample ??= buildTokenizerSample(400_000));
}

/** Reference ids (no BOS/EOS added). */
export function referenceIds(pair: LoadedPair, text: string): number[] {
  return pair.reference.encode(text, { add_special_tokens: false }).ids;
}

/** A readable account of the first difference between two id lists, or null when equal. */
export function firstDifference(pair: LoadedPair, ours: number[], ref: number[]): string | null {
  const n = Math.max(ours.length, ref.length);
  for (let i = 0; i < n; i++) {
    if (ours[i] !== ref[i]) {
      const ctx = (ids: number[]) => JSON.stringify(pair.ours.decode(ids.slice(Math.max(0, i - 3), i + 3)));
      return `ids differ at ${i} of ${ours.length}/${ref.length}: ours ${ours.slice(i, i + 4)} ${ctx(ours)} vs reference ${ref.slice(i, i + 4)} ${ctx(ref)}`;
    }
  }
  return null;
}

/** A seeded PRNG (mulberry32) so property tests are reproducible. */
export { mulberry32 as rng } from '../../../src/engine/decode/rng';
