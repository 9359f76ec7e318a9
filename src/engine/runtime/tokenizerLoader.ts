// Loads a model folder's tokenizer.json into the engine's Tokenizer (src/engine/tokenizer/).
// Kept separate so the model folder loader can be tested with any TokenizerLike.
import type { TokenizerLike } from '../interfaces';
import { Tokenizer } from '../tokenizer';

/** Reads and parses tokenizer.json (byte-level BPE). Throws a TrellisError on an unusable file. */
export async function loadTokenizerFile(file: string): Promise<Tokenizer & TokenizerLike> {
  return Tokenizer.fromFile(file);
}
