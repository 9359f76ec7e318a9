// The GPT-2 byte ↔ unicode alphabet: byte-level BPE vocabularies spell every byte as one
// printable character (bytes that are printable Latin-1 stand for themselves; the rest map to
// U+0100 and up, in byte order). Tables are computed once at module load.

/** `BYTE_TO_CHAR[b]` is the UTF-16 code unit that spells byte `b` in a byte-level vocabulary. */
export const BYTE_TO_CHAR: Uint16Array = (() => {
  const table = new Uint16Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = printable ? b : next++;
  }
  return table;
})();

/** Inverse of BYTE_TO_CHAR over code units 0..0x143; −1 for characters outside the alphabet. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) table[BYTE_TO_CHAR[b]] = b;
  return table;
})();

/** Bytes spelled by a byte-level vocabulary string, or null if it uses a character outside the alphabet. */
export function byteLevelToBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}

/**
 * Writes the bytes spelled by a byte-level vocabulary string into `out` at `offset`; returns
 * their number, or −1 if the string uses a character outside the alphabet.
 */
export function byteLevelInto(token: string, out: Uint8Array, offset: number): number {
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return -1;
    out[offset + i] = b;
  }
  return token.length;
}

/** The byte-level vocabulary spelling of `bytes[start, end)`. */
export function bytesToByteLevel(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(BYTE_TO_CHAR[bytes[i]]);
  return s;
}
