// The one place where UTF-16 strings meet UTF-8 bytes: encoding, decoding (strict and lossy),
// byte ↔ UTF-16 offset conversion, and cut points that never split a character.
// Everything inside the engine is bytes; the facade speaks strings and UTF-16 offsets.

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as in TextEncoder). */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * Writes the UTF-8 bytes of `text.slice(start, end)` into `out` at `outOffset` and returns the
 * number of bytes written. `out` must have room for 3 × (end − start) bytes. Hand-rolled because
 * TextEncoder.encodeInto needs a substring and a subarray, which cost more than the copy for the
 * short chunks the tokenizer feeds it.
 */
export function utf8EncodeRange(text: string, start: number, end: number, out: Uint8Array, outOffset = 0): number {
  let o = outOffset;
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < end) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[o++] = 0xf0 | (c >> 18);
          out[o++] = 0x80 | ((c >> 12) & 63);
          out[o++] = 0x80 | ((c >> 6) & 63);
          out[o++] = 0x80 | (c & 63);
          continue;
        }
      }
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate, as TextEncoder does
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
  }
  return o - outOffset;
}

/** Number of UTF-8 bytes of `text.slice(start, end)` (lone surrogates count as U+FFFD: 3). */
export function utf8Length(text: string, start = 0, end = text.length): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < end) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Decodes UTF-8, throwing a TypeError on malformed input. */
export function utf8DecodeStrict(bytes: Uint8Array): string {
  return strictDecoder.decode(bytes);
}

/** Decodes UTF-8, replacing malformed sequences with U+FFFD (WHATWG rules). For display only. */
export function utf8Decode(bytes: Uint8Array): string {
  return lossyDecoder.decode(bytes);
}

const onceDecoder = new TextDecoder();
const decodedOnce = new WeakMap<Uint8Array, string>();

/**
 * The text of a byte array handed out again and again (the grammar's next-lexeme examples),
 * decoded once per array, as `new TextDecoder()` decodes.
 */
export function utf8DecodeOnce(bytes: Uint8Array): string {
  let t = decodedOnce.get(bytes);
  if (t === undefined) decodedOnce.set(bytes, (t = onceDecoder.decode(bytes)));
  return t;
}

/**
 * Number of bytes of the well-formed UTF-8 sequence that starts at `bytes[i]`, or 0 if no
 * well-formed sequence starts there (stray continuation byte, bad lead, overlong form,
 * surrogate, > U+10FFFF, or a character cut short by the end of `bytes`).
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number, end = bytes.length): number {
  const b = bytes[i];
  if (b < 0x80) return 1;
  if (b < 0xc2) return 0;
  if (b < 0xe0) return i + 1 < end && (bytes[i + 1] & 0xc0) === 0x80 ? 2 : 0;
  if (b < 0xf0) {
    if (i + 2 >= end) return 0;
    const b1 = bytes[i + 1];
    if ((b1 & 0xc0) !== 0x80 || (bytes[i + 2] & 0xc0) !== 0x80) return 0;
    if (b === 0xe0 && b1 < 0xa0) return 0; // overlong
    if (b === 0xed && b1 >= 0xa0) return 0; // surrogate
    return 3;
  }
  if (b < 0xf5) {
    if (i + 3 >= end) return 0;
    const b1 = bytes[i + 1];
    if ((b1 & 0xc0) !== 0x80 || (bytes[i + 2] & 0xc0) !== 0x80 || (bytes[i + 3] & 0xc0) !== 0x80) return 0;
    if (b === 0xf0 && b1 < 0x90) return 0; // overlong
    if (b === 0xf4 && b1 >= 0x90) return 0; // > U+10FFFF
    return 4;
  }
  return 0;
}

/** True when `bytes` is well-formed UTF-8 that does not end inside a character. */
export function isCompleteUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; ) {
    if (bytes[i] < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) return false;
    i += n;
  }
  return true;
}

/**
 * Number of trailing bytes that begin a character the end of `bytes` cuts short (0–3): the
 * bytes a caller should hold back until more arrive. Malformed tails that no continuation could
 * complete count as 0 (they will never become a character).
 */
export function incompleteUtf8Tail(bytes: Uint8Array): number {
  const len = bytes.length;
  for (let k = 1; k <= 3 && k <= len; k++) {
    const b = bytes[len - k];
    if ((b & 0xc0) === 0x80) continue; // continuation: keep looking for the lead
    const need = b >= 0xf0 && b < 0xf5 ? 4 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 1;
    if (need <= k) return 0;
    // A lead that wants more bytes than remain: incomplete only if the bytes present could
    // still start a well-formed character (second-byte limits of UTF-8's table 3-7).
    if (k >= 2) {
      const b1 = bytes[len - k + 1];
      if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 >= 0xa0)) return 0;
      if ((b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 >= 0x90)) return 0;
    }
    return k;
  }
  return 0;
}

/**
 * Largest cut point ≤ `offset` that does not fall inside a character: it never lands on a
 * continuation byte of a well-formed sequence. Offsets are clamped to [0, bytes.length].
 */
export function utf8FloorBoundary(bytes: Uint8Array, offset: number): number {
  let i = Math.max(0, Math.min(offset, bytes.length));
  // At most 3 steps back: a character is at most 4 bytes.
  for (let k = 0; k < 3 && i > 0 && i < bytes.length && (bytes[i] & 0xc0) === 0x80; k++) i--;
  return i;
}

/** Smallest cut point ≥ `offset` that does not fall inside a character. */
export function utf8CeilBoundary(bytes: Uint8Array, offset: number): number {
  let i = Math.max(0, Math.min(offset, bytes.length));
  for (let k = 0; k < 3 && i < bytes.length && (bytes[i] & 0xc0) === 0x80; k++) i++;
  return i;
}

/** UTF-8 byte offset of UTF-16 offset `utf16Offset` in `text` (a split surrogate pair counts its high half as 3 bytes). */
export function utf16ToUtf8Offset(text: string, utf16Offset: number): number {
  return utf8Length(text, 0, Math.max(0, Math.min(utf16Offset, text.length)));
}

/**
 * UTF-16 offset in `text` of UTF-8 byte offset `byteOffset`. A byte offset inside a character
 * rounds down to that character's start.
 */
export function utf8ToUtf16Offset(text: string, byteOffset: number): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let w: number;
    let units = 1;
    if (c < 0x80) w = 1;
    else if (c < 0x800) w = 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        w = 4;
        units = 2;
      } else w = 3;
    } else w = 3;
    if (n + w > byteOffset) return i;
    n += w;
    i += units - 1;
  }
  return text.length;
}

/** A decoding that keeps exact byte positions even when the bytes are not valid UTF-8. */
export interface LossyText {
  /** The text; every byte that is not part of a well-formed character becomes one U+FFFD. */
  text: string;
  /**
   * `byteOffsets[i]` is the byte offset where UTF-16 unit `i` starts (length text.length + 1;
   * the last entry is bytes.length). Undefined when the bytes were valid UTF-8, in which case
   * offsets follow from the UTF-8 lengths of the characters.
   */
  byteOffsets?: Int32Array;
}

/**
 * Decodes bytes for analysis (pre-tokenizer regexes) without losing byte positions: valid UTF-8
 * decodes normally; otherwise each stray byte maps to its own U+FFFD (unlike WHATWG decoding,
 * which may fold several bytes into one), so every UTF-16 unit has a definite byte offset.
 */
export function decodeWithOffsets(bytes: Uint8Array): LossyText {
  // Validate first rather than catch a fatal decoder's exception: callers such as healing pass
  // many short windows cut inside characters, and exceptions cost far more than this scan.
  if (isCompleteUtf8(bytes)) return { text: lossyDecoder.decode(bytes) };
  const parts: string[] = [];
  const offsets: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const n = utf8SequenceLength(bytes, i);
    if (n === 0) {
      parts.push('\ufffd');
      offsets.push(i);
      i++;
      continue;
    }
    const s = strictDecoder.decode(bytes.subarray(i, i + n));
    parts.push(s);
    offsets.push(i);
    if (s.length === 2) offsets.push(i); // low surrogate shares the character's start
    i += n;
  }
  offsets.push(bytes.length);
  return { text: parts.join(''), byteOffsets: Int32Array.from(offsets) };
}
