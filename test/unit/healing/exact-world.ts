// A world small enough to compute exactly, for the healing exactness test: a byte-level Markov
// source over a tiny alphabet (ASCII letters, space, newline, '.', and 'é' = two bytes), a real
// tokenizer.json-format byte-level BPE (Split pre-tokenizer with the default model's regex,
// merges chosen to create ambiguous and mid-character tokens) loaded through Tokenizer.fromJSON,
// and the tokenized model that is the source's exact token-level counterpart:
// P(t | u) = mass(u·t) / mass(u), mass(u) = Σ P(s) over texts s whose canonical encoding starts
// with u — computed by enumerating every text of the source.
import type { ForwardRow, KvCache } from '../../../src/engine/interfaces';
import type { PreciseLanguageModel } from '../../../src/engine/healing';
import { Tokenizer } from '../../../src/engine/tokenizer';
import { bytesToByteLevel } from '../../../src/engine/tokenizer/bytes';
import { mulberry32 } from '../../../src/engine/decode/rng';

/** The default model's pre-tokenizer regex (tools/train/bpe.py). */
export const CODE_REGEX =
  "'(?:[sdmt]|ll|ve|re)| ?[A-Za-z_\\u00C0-\\uFFFF]+| ?[0-9]{1,3}| ?[^\\sA-Za-z0-9_\\u00C0-\\uFFFF]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Characters of the source. */
export const ALPHABET = ['a', 'b', ' ', '\n', '.', 'é'] as const;

const enc = new TextEncoder();
const spell = (s: string): string => bytesToByteLevel(enc.encode(s));

/**
 * Merges in rank order, as UTF-8 strings. `a` + first byte of `é` comes before `é` itself, so
 * `aé` encodes as [a\xC3, \xA9] (a token ending inside a character); ` a`, `ab`, `aa`, `  `
 * create several ways to spell the same bytes, most of them non-canonical.
 */
const MERGES: [string, string][] = [
  ['a', '\xC3'],
  ['\xC3', '\xA9'],
  ['a', 'b'],
  [' ', 'a'],
  ['a', 'a'],
  [' ', ' '],
  ['\n', '\n'],
  ['.', '\n'],
  [' ', '\n'],
  [' a', 'b'],
  ['ab', 'a'],
  ['b', 'b'],
  ['.', '.'],
  [' ', 'b'],
  ['aa', 'b'],
  ['é', 'é'],
  ['  ', ' '],
  [' ', 'é'],
];

/** Spells a merge part given as "bytes as Latin-1 chars" (so '\xC3' is the single byte 0xC3). */
function spellPart(s: string): string {
  const bytes = /[\u0080-\u00ff]/.test(s) && s !== 'é' ? Uint8Array.from(s, (c) => c.charCodeAt(0)) : enc.encode(s);
  return bytesToByteLevel(bytes);
}

/** The tokenizer.json object of the world's tokenizer: <s> = 0 (BOS), </s> = 1 (EOS). */
export function worldTokenizerJson(): object {
  const vocab: Record<string, number> = { '<s>': 0, '</s>': 1 };
  let next = 2;
  const add = (tok: string): void => {
    if (!(tok in vocab)) vocab[tok] = next++;
  };
  // All 256 byte tokens, as in every byte-level BPE (the source uses only a few of them).
  for (let b = 0; b < 256; b++) add(bytesToByteLevel(Uint8Array.of(b)));
  const merges: string[] = [];
  for (const [a, b] of MERGES) {
    const sa = spellPart(a);
    const sb = spellPart(b);
    add(sa);
    add(sb);
    add(sa + sb);
    merges.push(`${sa} ${sb}`);
  }
  return {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
      { id: 1, content: '</s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CODE_REGEX }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}


/** One text of the source with its probability. */
export interface SourceText {
  text: string;
  bytes: Uint8Array;
  p: number;
}

/**
 * A first-order Markov chain over ALPHABET with a stop probability, truncated at `maxChars`
 * characters (the last step stops). Returns every text with positive probability.
 */
export function markovSource(seed: number, maxChars: number): SourceText[] {
  const rnd = mulberry32(seed);
  const k = ALPHABET.length;
  const row = (): number[] => {
    const w = Array.from({ length: k + 1 }, () => 0.2 + rnd());
    const s = w.reduce((x, y) => x + y, 0);
    return w.map((x) => x / s); // last entry: stop
  };
  const start = row().slice(0, k);
  const s0 = start.reduce((x, y) => x + y, 0);
  const init = start.map((x) => x / s0);
  const trans = Array.from({ length: k }, row);
  const out: SourceText[] = [];
  const walk = (text: string, last: number, p: number, n: number): void => {
    if (n === maxChars) {
      out.push({ text, bytes: enc.encode(text), p });
      return;
    }
    const t = trans[last]!;
    out.push({ text, bytes: enc.encode(text), p: p * t[k]! });
    for (let c = 0; c < k; c++) walk(text + ALPHABET[c], c, p * t[c]!, n + 1);
  };
  for (let c = 0; c < k; c++) walk(ALPHABET[c]!, c, init[c]!, 1);
  return out;
}

class ToyCache implements KvCache {
  constructor(public ids: number[] = []) {}
  get length(): number {
    return this.ids.length;
  }
  fork(): ToyCache {
    return new ToyCache(this.ids.slice());
  }
  truncate(length: number): void {
    this.ids.length = Math.min(this.ids.length, length);
  }
  dispose(): void {}
}

/** The exact token-level counterpart of a byte source under a tokenizer. */
export class ExactTokenModel implements PreciseLanguageModel {
  readonly vocabSize: number;
  readonly contextLength = 64;
  /** mass of texts whose encoding starts with the key (ids joined by ','). */
  private readonly mass = new Map<string, number>();
  /** mass of texts whose encoding is exactly the key. */
  private readonly endMass = new Map<string, number>();
  forwardCalls = 0;

  constructor(
    texts: readonly SourceText[],
    readonly tokenizer: Tokenizer,
    readonly bos: number,
    readonly eos: number,
  ) {
    this.vocabSize = tokenizer.vocabSize;
    for (const t of texts) {
      const ids = tokenizer.encodeBytes(t.bytes);
      let key = '';
      this.mass.set('', (this.mass.get('') ?? 0) + t.p);
      for (const id of ids) {
        key = key === '' ? String(id) : `${key},${id}`;
        this.mass.set(key, (this.mass.get(key) ?? 0) + t.p);
      }
      this.endMass.set(key, (this.endMass.get(key) ?? 0) + t.p);
    }
  }

  newCache(): KvCache {
    return new ToyCache();
  }

  /** log P(next token | ids), ids starting with BOS; uniform where the prefix has no mass. */
  private logits(ids: readonly number[]): Float64Array {
    const out = new Float64Array(this.vocabSize);
    if (ids[0] !== this.bos) return out;
    const key = ids.slice(1).join(',');
    const m = this.mass.get(key) ?? 0;
    if (m === 0) return out;
    for (let t = 0; t < this.vocabSize; t++) {
      const mt = t === this.eos ? this.endMass.get(key) ?? 0 : this.tokenizer.isSpecial(t) ? 0 : this.mass.get(key === '' ? String(t) : `${key},${t}`) ?? 0;
      out[t] = mt > 0 ? Math.log(mt / m) : -Infinity;
    }
    return out;
  }

  async forward64(rows: readonly ForwardRow[], options: { allPositions?: boolean } = {}): Promise<Float64Array[]> {
    this.forwardCalls++;
    return rows.map((r) => {
      const cache = r.cache as ToyCache;
      const per: Float64Array[] = [];
      for (const id of r.ids) {
        cache.ids.push(id);
        per.push(this.logits(cache.ids));
      }
      if (!options.allPositions) return per[per.length - 1]!;
      const all = new Float64Array(per.length * this.vocabSize);
      per.forEach((p, i) => all.set(p, i * this.vocabSize));
      return all;
    });
  }

  async forward(rows: readonly ForwardRow[], options: { allPositions?: boolean } = {}): Promise<Float32Array[]> {
    return (await this.forward64(rows, options)).map((a) => Float32Array.from(a));
  }

  dispose(): void {}
}

/** Byte-level truth of the source: P(text starts with x) and P(text = x). */
export class ByteTruth {
  private readonly prefix = new Map<string, number>();
  private readonly exact = new Map<string, number>();

  constructor(texts: readonly SourceText[]) {
    for (const t of texts) {
      const k = latin1(t.bytes);
      this.exact.set(k, (this.exact.get(k) ?? 0) + t.p);
      for (let i = 0; i <= t.bytes.length; i++) {
        const pk = k.slice(0, i);
        this.prefix.set(pk, (this.prefix.get(pk) ?? 0) + t.p);
      }
    }
  }

  prefixProb(bytes: Uint8Array): number {
    return this.prefix.get(latin1(bytes)) ?? 0;
  }

  /** P(next byte | x) for all 256 bytes, and P(end | x). */
  nextByte(x: Uint8Array): { probs: Float64Array; end: number } {
    const px = this.prefixProb(x);
    const probs = new Float64Array(256);
    const k = latin1(x);
    for (let b = 0; b < 256; b++) probs[b] = (this.prefix.get(k + String.fromCharCode(b)) ?? 0) / px;
    return { probs, end: (this.exact.get(k) ?? 0) / px };
  }
}

export function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** The world: source, tokenizer, exact model, truth. */
export function buildWorld(seed = 7, maxChars = 6) {
  const tokenizer = Tokenizer.fromJSON(worldTokenizerJson(), 'healing-exact-world tokenizer.json');
  const texts = markovSource(seed, maxChars);
  const model = new ExactTokenModel(texts, tokenizer, 0, 1);
  return { tokenizer, texts, model, truth: new ByteTruth(texts), spell };
}
